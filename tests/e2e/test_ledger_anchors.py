"""Anchors end to end: the chain's head leaves the database, and `verify --anchor` catches a
chain that was deleted and sealed again after an entry was edited (which plain `verify`
cannot: the new chain is consistent with itself).

The intruder works as a superuser would: every trigger on the journal's tables out of the
way (PostgreSQL: ``DISABLE TRIGGER ALL``; SQLite: each one dropped), whatever their names.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.bootstrap import provider_registry
from payments.entrypoints.worker import jobs
from payments.entrypoints.worker.jobs import NightAnchor, daily_jobs
from payments.http.container import Container
from payments.ledger.anchors import parse_anchor
from payments.ledger.sealing import current_anchor, seal_backlog, unsealed_backlog
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import verify_ledger
from payments.reconcile.ports import StatementUnavailable
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import TEST_PROVIDERS, api_client
from tests.support.cli_thread import run_cli
from tests.support.ledger_builders import T0, post_payments
from tests.support.reconcile_days import DAY as RECONCILED_DAY
from tests.support.reconcile_days import csv_line, gateway, statement

NIGHT = datetime(2026, 11, 23, 18, 0, 5, tzinfo=UTC)  # 01:00:05 in Hanoi
DAY = date(2026, 11, 23)


async def rewrite_history(engine: AsyncEngine, victim: int) -> None:
    """Edit a sealed entry, delete the whole chain and queue every entry to be sealed again."""
    guarded = ("ledger_entries", "ledger_chain")
    async with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            for table in guarded:
                await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        else:
            names = await conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name IN ('ledger_entries', 'ledger_chain')"
                )
            )
            for name in names.scalars().all():
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
        await conn.execute(
            text(f"UPDATE ledger_entries SET description = 'nothing to see' WHERE id = {victim}")
        )
        await conn.execute(text("DELETE FROM ledger_chain"))
        await conn.execute(
            text(
                "INSERT INTO ledger_unsealed (entry_id) SELECT id FROM ledger_entries e "
                "WHERE NOT EXISTS (SELECT 1 FROM ledger_unsealed u WHERE u.entry_id = e.id)"
            )
        )
        if postgres:
            for table in guarded:
                await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))


def head_of(output: str) -> str:
    """The anchor `ledger seal` printed: ``sealed N entries; chain head P:H``."""
    return output.strip().splitlines()[-1].rpartition("chain head ")[2]


async def test_verify_anchor_catches_a_chain_deleted_and_sealed_again(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str
) -> None:
    db = ("--database-url", database_url)
    ids = await post_payments(uow_factory, 4)
    sealed = run_cli("ledger", "seal", *db)
    assert sealed.exit_code == 0, sealed.output
    head = head_of(sealed.output)
    assert parse_anchor(head).position == 4
    printed = run_cli("ledger", "anchor", *db)
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip() == head

    holds = run_cli("ledger", "verify", *db, "--anchor", head)
    assert holds.exit_code == 0, holds.output
    assert f"chain head: {head}" in holds.output
    assert "anchors: 1 checked, 1 hold, 0 no longer hold" in holds.output

    await rewrite_history(engine, ids[1])
    resealed = run_cli("ledger", "seal", *db)
    assert resealed.exit_code == 0, resealed.output
    assert "sealed 4 entries" in resealed.output
    assert head_of(resealed.output) != head
    plain = run_cli("ledger", "verify", *db)
    assert plain.exit_code == 0, plain.output  # the rewrite is invisible without the anchor

    caught = run_cli("ledger", "verify", *db, "--anchor", head)
    assert caught.exit_code == 1, caught.output
    assert "anchors: 1 checked, 0 hold, 1 no longer hold" in caught.output
    assert f"anchor {head} no longer holds: the journal now hashes to" in caught.output


async def test_every_line_of_an_anchor_file_is_checked(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    db = ("--database-url", database_url)
    anchors = tmp_path / "anchors.log"
    await post_payments(uow_factory, 3)
    assert run_cli("ledger", "seal", *db).exit_code == 0
    first = run_cli("ledger", "anchor", *db, "--file", str(anchors))
    assert first.exit_code == 0, first.output
    later = await post_payments(uow_factory, 2)
    assert run_cli("ledger", "seal", *db).exit_code == 0
    assert run_cli("ledger", "anchor", *db, "--file", str(anchors)).exit_code == 0
    lines = anchors.read_text().splitlines()
    assert [line.split()[1].partition(":")[0] for line in lines] == ["3", "5"]
    assert all(datetime.fromisoformat(line.split()[0]).tzinfo is not None for line in lines)

    holds = run_cli("ledger", "verify", *db, "--anchor", str(anchors))
    assert holds.exit_code == 0, holds.output
    assert "anchors: 2 checked, 2 hold" in holds.output

    # Entry 4 came after the first anchor: that one still holds, the second does not.
    await rewrite_history(engine, later[0])
    assert run_cli("ledger", "seal", *db).exit_code == 0
    caught = run_cli("ledger", "verify", *db, "--anchor", str(anchors))
    assert caught.exit_code == 1, caught.output
    assert "anchors: 2 checked, 1 hold, 1 no longer hold" in caught.output
    assert f"anchor {lines[1].split()[1]} ({anchors}:2, anchored " in caught.output
    assert lines[0].split()[1] not in caught.output


async def test_a_bad_anchor_argument_is_refused(database_url: str, tmp_path: Path) -> None:
    db = ("--database-url", database_url)
    missing = run_cli("ledger", "verify", *db, "--anchor", str(tmp_path / "nowhere.log"))
    assert missing.exit_code == 2
    assert "neither <position>:<hash> nor an anchor file" in missing.output
    bad = tmp_path / "bad.log"
    bad.write_text(f"2026-11-23T18:00:05Z 3:{'a' * 64}\nnot an anchor\n")
    refused = run_cli("ledger", "verify", *db, "--anchor", str(bad))
    assert refused.exit_code == 2
    assert f"{bad}:2:" in refused.output
    empty = tmp_path / "empty.log"
    empty.write_text("# nothing yet\n")
    assert run_cli("ledger", "verify", *db, "--anchor", str(empty)).exit_code == 2


async def test_an_anchor_the_chain_never_reached_does_not_hold(database_url: str) -> None:
    result = run_cli(
        "ledger", "verify", "--database-url", database_url, "--anchor", f"9:{'a' * 64}"
    )
    assert result.exit_code == 1
    assert "the chain ends at position 0, before the anchored position 9" in result.output


async def test_the_reconcile_summary_ends_with_the_chain_head(
    uow_factory: SqlUnitOfWorkFactory, database_url: str, tmp_path: Path
) -> None:
    paid = (await (await gateway(uow_factory)).paid(150_000)).id
    await seal_backlog(uow_factory, clock=lambda: T0)
    await post_payments(uow_factory, 1)  # posted since: waits for the next seal
    statement_file = tmp_path / "statement.csv"
    statement_file.write_bytes(statement(csv_line(paid, 150_000)))
    done = run_cli(
        "reconcile", "--date", RECONCILED_DAY.isoformat(), "--database-url", database_url,
        "--statement", str(statement_file), "--quiet",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    head = await current_anchor(uow_factory, now=T0)
    assert head.position > 0
    waiting = await unsealed_backlog(uow_factory)
    assert waiting > 0
    last = done.output.strip().splitlines()[-1]
    assert last.startswith(f"Ledger chain head: {head}; {waiting} entr")
    assert last.endswith("not sealed yet")


# --- /readyz and the in-process worker ---------------------------------------------------------


async def test_readyz_shows_the_sealing_backlog(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await post_payments(uow_factory, 3)
    async with api_client(database_url) as http:  # no worker in this process
        before = await http.get("/readyz")
        await seal_backlog(uow_factory, clock=lambda: T0, batch=2)
        after = await http.get("/readyz")
    assert before.status_code == 200
    assert before.json()["ledger"] == {"unsealed": 3}
    assert after.json()["ledger"] == {"unsealed": 0}


async def test_the_demo_seals_in_its_web_process(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await post_payments(uow_factory, 5)
    async with api_client(database_url, run_worker_in_web=True, seal_interval_seconds=1) as http:
        deadline = time.monotonic() + 15
        while (await http.get("/readyz")).json()["ledger"]["unsealed"]:
            assert time.monotonic() < deadline, "the in-process worker never sealed"
            await asyncio.sleep(0.05)
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, [str(p) for p in report.problems]
    assert report.sealed == 5


# --- the nightly anchor ------------------------------------------------------------------------


class Log:
    """Stands in for the jobs module's logger."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str) -> Any:
        return lambda event, **fields: self.events.append((level, event, fields))

    def __getattr__(self, level: str) -> Any:
        return self._record(level)

    def of(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        return [(level, fields) for level, name, fields in self.events if name == event]


class AnchorService:
    """What an anchor URL receives; answers ``status``."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        if request.url.path == "/anchors":
            return httpx.Response(self.status)
        return httpx.Response(503)  # the treasury, in the test that needs it down


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Log:
    found = Log()
    monkeypatch.setattr(jobs, "log", found)
    return found


@pytest.fixture
async def service() -> AnchorService:
    return AnchorService()


@pytest.fixture
async def night(
    database_url: str, engine: AsyncEngine, service: AnchorService, tmp_path: Path
) -> AsyncIterator[Any]:
    async def make(**overrides: Any) -> Container:
        options: dict[str, Any] = {
            **TEST_PROVIDERS,
            "ledger_anchor_file": str(tmp_path / "anchors.log"),
            "ledger_anchor_url": "https://anchors.example/anchors?tenant=x",
            "ledger_anchor_token": "anchor-token",
            **overrides,
        }
        settings = Settings(database_url=database_url, **options)
        return Container(
            settings=settings,
            engine=engine,
            uow_factory=SqlUnitOfWorkFactory(engine),
            http=http,
            providers=provider_registry(settings, http),
            clock=lambda: NIGHT,
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as http:
        yield make


async def test_the_nightly_job_seals_and_writes_the_head_to_the_file_and_the_url(
    night: Any, service: AnchorService, log: Log, tmp_path: Path, database_url: str
) -> None:
    container: Container = await night()
    await post_payments(container.uow_factory, 3)  # not sealed yet: the night seals them first
    [job] = daily_jobs(container)
    assert job.name == "ledger-anchor"  # no reconciliation configured: anchoring alone
    done = await job.run(DAY, NIGHT)
    assert isinstance(done, NightAnchor)
    assert done.anchor.position == 3
    assert done.failed == []
    line = f"2026-11-23T18:00:05Z {done.anchor}"
    assert (tmp_path / "anchors.log").read_text() == line + "\n"
    [request] = service.received
    assert request.headers["authorization"] == "Bearer anchor-token"
    body = json.loads(request.content)
    assert body == {
        "anchor": str(done.anchor),
        "position": 3,
        "chain_hash": done.anchor.chain_hash,
        "anchored_at": "2026-11-23T18:00:05Z",
    }
    [(_, fields)] = log.of("ledger_anchored")
    assert fields["anchor"] == str(done.anchor)
    assert fields["written_to"] == [
        f"file {tmp_path / 'anchors.log'}",
        "url https://anchors.example/anchors",
    ]
    # What the night wrote is what verify takes.
    checked = run_cli(
        "ledger", "verify", "--database-url", database_url,
        "--anchor", str(tmp_path / "anchors.log"),
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    # A second night appends; it never rewrites.
    await job.run(DAY + timedelta(days=1), NIGHT)
    assert (tmp_path / "anchors.log").read_text().splitlines() == [line, line]


async def test_an_anchor_that_cannot_be_written_is_logged_and_the_night_goes_on(
    night: Any, service: AnchorService, log: Log, tmp_path: Path
) -> None:
    service.status = 500
    container: Container = await night(ledger_anchor_file=str(tmp_path / "no-such-dir" / "a.log"))
    [job] = daily_jobs(container)
    done = await job.run(DAY, NIGHT)
    assert isinstance(done, NightAnchor)
    assert str(done.anchor) == f"0:{'0' * 64}"
    assert done.failed == [
        f"file {tmp_path / 'no-such-dir' / 'a.log'}",
        "url https://anchors.example/anchors",
    ]
    failures = {fields["target"]: fields["error"] for _, fields in log.of("ledger_anchor_failed")}
    assert failures["url https://anchors.example/anchors"] == "answered 500"
    assert "FileNotFoundError" in failures[f"file {tmp_path / 'no-such-dir' / 'a.log'}"]
    assert all(level == "warning" for level, _ in log.of("ledger_anchor_failed"))


async def test_the_nightly_reconciliation_anchors_even_when_its_run_fails(
    night: Any, service: AnchorService, log: Log, tmp_path: Path
) -> None:
    container: Container = await night(treasury_statement_url="https://treasury.example/statement")
    await post_payments(container.uow_factory, 2)
    [job] = daily_jobs(container)
    assert job.name == "reconcile"
    with pytest.raises(StatementUnavailable):  # the treasury answers 503: retried later
        await job.run(DAY, NIGHT)
    [line] = (tmp_path / "anchors.log").read_text().splitlines()
    assert line.startswith("2026-11-23T18:00:05Z 2:")
    [(_, fields)] = log.of("ledger_anchored")
    assert fields["anchor"] == line.split()[1]


async def test_without_a_reconciliation_or_an_anchor_target_no_daily_job(night: Any) -> None:
    container: Container = await night(ledger_anchor_file=None, ledger_anchor_url=None)
    assert daily_jobs(container) == []
