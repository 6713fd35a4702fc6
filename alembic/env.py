"""Alembic environment: async engines on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import payments.adapters.db.scheduled_runs  # registers the daily jobs' table
import payments.ledger.tables  # registers the ledger tables
import payments.notifications.tables  # registers the outbox tables
import payments.reconcile.storage.tables  # registers the reconciliation tables
import payments.refunds.storage.tables  # noqa: F401  (registers the refund tables)
from alembic import context
from payments.db.metadata import metadata
from payments.settings import Settings, normalise_database_url

config = context.config
target_metadata = metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return normalise_database_url(configured or Settings().database_url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async())
        return
    # Called from inside an event loop (a test fixture, say): migrate on a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, _run_async()).result()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
