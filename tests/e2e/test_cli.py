"""The operator CLI against a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from payments.adapters.db.engine import make_engine
from payments.entrypoints.cli import cli
from payments.services.access import authenticate
from payments.unit_of_work import SqlUnitOfWorkFactory


def test_migrate_agency_and_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    env = {"PAYMENTS_DATABASE_URL": url}
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    made = runner.invoke(
        cli,
        [
            "agency",
            "create",
            "--code",
            "HCM1",
            "--name",
            "Một cửa HCM",
            "--allowed-host",
            "motcua.hochiminhcity.gov.vn",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    duplicate = runner.invoke(
        cli,
        ["agency", "create", "--code", "HCM1", "--name", "x", "--allowed-host", "a.vn"],
        env=env,
    )
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    bad_host = runner.invoke(
        cli,
        ["agency", "create", "--code", "X2", "--name", "x", "--allowed-host", "https://a.vn/"],
        env=env,
    )
    assert bad_host.exit_code == 1
    assert "not URLs: https://a.vn/" in bad_host.output
    key = CliRunner().invoke(
        cli, ["apikey", "create", "--agency", "HCM1", "--role", "finance"], env=env
    )
    assert key.exit_code == 0
    plain = key.stdout.strip()
    assert plain.startswith("pfk_")
    assert "\n" not in plain  # only the key: scriptable

    async def who() -> str:
        engine = make_engine(url)
        try:
            caller = await authenticate(SqlUnitOfWorkFactory(engine), plain)
        finally:
            await engine.dispose()
        return f"{caller.agency_code}:{caller.role.value}"

    assert asyncio.run(who()) == "HCM1:finance"
    unknown = runner.invoke(
        cli, ["apikey", "create", "--agency", "NOPE", "--role", "portal"], env=env
    )
    assert unknown.exit_code == 1
    assert "no agency" in unknown.output
