"""What every CLI command shares: settings, an engine for one command, error display."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from payments.adapters.db.engine import make_engine
from payments.domain.errors import InvalidInput, PaymentsError
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

T = TypeVar("T")


def settings_from_env(database_url: str | None = None) -> Settings:
    if database_url:
        return Settings(database_url=database_url)
    return Settings()


def run_with_database(
    settings: Settings, work: Callable[[SqlUnitOfWorkFactory], Awaitable[T]]
) -> T:
    """Run one async use case against the configured database; errors become CLI errors."""

    async def runner() -> T:
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            return await work(SqlUnitOfWorkFactory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(runner())
    except InvalidInput as exc:
        lines = "\n".join(f"  {p.field}: {p.message}" for p in exc.problems)
        raise click.ClickException(f"{exc.title}:\n{lines}") from None
    except PaymentsError as exc:
        raise click.ClickException(exc.detail) from None


database_option = click.option(
    "--database-url",
    envvar="PAYMENTS_DATABASE_URL",
    default=None,
    help="Database URL (default: PAYMENTS_DATABASE_URL, else a SQLite file).",
)
