"""Operator commands for notifications: an agency's default notify URL and its secret."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from payments.adapters.db.engine import make_engine
from payments.entrypoints.cli import cli
from payments.services.ports import DeliveryTarget
from payments.unit_of_work import SqlUnitOfWorkFactory


def target(url: str, code: str) -> DeliveryTarget:
    async def read() -> DeliveryTarget:
        engine = make_engine(url)
        try:
            async with SqlUnitOfWorkFactory(engine)() as tx:
                agency = await tx.agencies.by_code(code)
                assert agency is not None
                return await tx.notifications.target(agency.id, datetime.now(UTC))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_notify_url_and_secret_rotation(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"PAYMENTS_DATABASE_URL": url, "PAYMENTS_WEBHOOK_SECRET_OVERLAP_HOURS": "24"}
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    create = ["agency", "create", "--code", "TAX", "--name", "Thuế", "--allowed-host", "tax.vn"]
    refused = runner.invoke(cli, [*create, "--notify-url", "https://evil.example/n"], env=env)
    assert refused.exit_code == 1
    assert "not on the agency's allowed hosts" in refused.output
    made = runner.invoke(cli, [*create, "--notify-url", "https://tax.vn/notify"], env=env)
    assert made.exit_code == 0, made.output
    assert target(url, "TAX").default_url == "https://tax.vn/notify"
    assert target(url, "TAX").secrets == ()

    first = runner.invoke(cli, ["agency", "secret", "rotate", "--agency", "TAX"], env=env)
    assert first.exit_code == 0, first.output
    old = first.stdout.strip()
    assert old.startswith("whsec_")
    assert "\n" not in old  # only the secret: scriptable
    new = runner.invoke(cli, ["agency", "secret", "rotate", "--agency", "TAX"], env=env)
    assert target(url, "TAX").secrets == (new.stdout.strip(), old)  # both sign for a while

    moved = runner.invoke(
        cli, ["agency", "notify-url", "--agency", "TAX", "https://tax.vn/v2"], env=env
    )
    assert moved.exit_code == 0, moved.output
    assert target(url, "TAX").default_url == "https://tax.vn/v2"
    plain = runner.invoke(
        cli, ["agency", "notify-url", "--agency", "TAX", "http://tax.vn/v2"], env=env
    )
    assert plain.exit_code == 1  # plain http only in sandbox mode
    cleared = runner.invoke(cli, ["agency", "notify-url", "--agency", "TAX", "--clear"], env=env)
    assert cleared.exit_code == 0
    assert target(url, "TAX").default_url is None
    unknown = runner.invoke(cli, ["agency", "secret", "rotate", "--agency", "NOPE"], env=env)
    assert unknown.exit_code == 1
