"""Imports on SQLite and PostgreSQL: the same bytes imported twice at once (a double click, the
nightly job beside an upload) store them once and both succeed; a provider's report of a day
is superseded by the one completed later, logged and audited; a camt statement of another
day is refused."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, MutableMapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Self

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables
from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.formats.statements import StatementError
from payments.reconcile.formats.writers import camt053
from payments.reconcile.ports import NewStatement, StoredStatement
from payments.reconcile.storage.repository import SqlReconciliation
from payments.reconcile.usecases import imports as reconcile_import
from payments.reconcile.usecases.imports import Imported, import_settlement, import_statement
from payments.reconcile.usecases.reports import list_statements
from payments.unit_of_work import SqlUnitOfWork, WorkFactory
from tests.support.reconcile_days import (
    DAY,
    NIGHT,
    csv_line,
    import_csv,
    import_vnpay,
    statement,
    vnpay_report,
)


def meeting(engine: AsyncEngine, parties: int) -> Callable[[], SqlUnitOfWork]:
    """Units of work whose imports all reach ``complete_statement`` before any goes on: each
    has stored its lines, none has completed, so their completions truly clash."""
    barrier = asyncio.Barrier(parties)

    class AtTheBarrier(SqlReconciliation):
        async def complete_statement(
            self, statement_id: int, statement: NewStatement
        ) -> StoredStatement | None:
            await asyncio.wait_for(barrier.wait(), timeout=10)
            return await super().complete_statement(statement_id, statement)

    class Meeting(SqlUnitOfWork):
        async def __aenter__(self) -> Self:
            await super().__aenter__()
            self.reconciliation = AtTheBarrier(self.connection)
            return self

    return lambda: Meeting(engine)


@pytest.mark.postgres_only
async def test_two_imports_of_the_same_bytes_meeting_at_completion_store_them_once(
    engine: AsyncEngine, uow_factory: WorkFactory
) -> None:
    uow = meeting(engine, 2)
    content = statement(csv_line("pay_" + "1" * 26, 150_000), csv_line("pay_" + "2" * 26))
    answers = await asyncio.gather(import_csv(uow, content), import_csv(uow, content))
    _one_created(answers)

    report = vnpay_report(("att_x", 150_000))
    answers = await asyncio.gather(import_vnpay(uow, report), import_vnpay(uow, report))
    _one_created(answers)
    async with uow_factory() as tx:
        assert len(await tx.reconciliation.statements_for(DAY, "treasury")) == 1
        assert len(await tx.reconciliation.statements_for(DAY, "vnpay")) == 1
        created = next(a for a in answers if a.created)
        lines = await tx.reconciliation.settlement_lines_of([created.statement.id])
        assert len(lines) == 1


async def test_two_imports_of_the_same_bytes_at_once_both_succeed(
    uow_factory: WorkFactory,
) -> None:
    content = statement(csv_line("pay_" + "1" * 26, 150_000))
    _one_created(
        await asyncio.gather(import_csv(uow_factory, content), import_csv(uow_factory, content))
    )
    report = vnpay_report(("att_x", 150_000))
    _one_created(
        await asyncio.gather(import_vnpay(uow_factory, report), import_vnpay(uow_factory, report))
    )
    assert [s.source for s in await list_statements(uow_factory)] == ["vnpay", "treasury"]


def _one_created(answers: Sequence[Imported]) -> None:
    assert sorted(a.created for a in answers) == [False, True]
    assert answers[0].statement == answers[1].statement


class Log:
    """Stands in for the module's logger: structlog's capture_logs misses a logger cached
    (and level-filtered) by an app an earlier test configured."""

    def __init__(self) -> None:
        self.entries: list[MutableMapping[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.entries.append({"event": event, **fields})


async def test_the_report_completed_last_wins_and_the_supersession_is_audited(
    engine: AsyncEngine, uow_factory: WorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = Log()
    monkeypatch.setattr(reconcile_import, "log", log)
    first = await import_vnpay(uow_factory, vnpay_report(("att_a", 150_000)), minutes=30)
    # Imported after, yet completed earlier by its stamp (a caller's ``now`` from before the
    # other import): the first stays the newest, whatever the ids say.
    older = await import_vnpay(uow_factory, vnpay_report(("att_b", 150_000)), minutes=10)
    assert older.statement.id > first.statement.id
    listed = {s.id: s.superseded for s in await list_statements(uow_factory)}
    assert listed == {first.statement.id: False, older.statement.id: True}
    assert _superseded(log.entries) == [(older.statement.id, first.statement.id)]
    log.entries.clear()

    # A clock stamps the completion: a report completed now wins over both.
    moment = NIGHT + timedelta(hours=1)
    latest = await _import_at(uow_factory, vnpay_report(("att_c", 150_000)), lambda: moment)
    assert latest.statement.imported_at == moment
    assert _superseded(log.entries) == [(first.statement.id, latest.statement.id)]
    async with uow_factory() as tx:
        [newest] = await tx.reconciliation.latest_settlement_reports(DAY)
    assert newest.id == latest.statement.id

    async with engine.connect() as conn:
        audit = tables.audit_log.c
        rows = (
            await conn.execute(
                select(audit.target_id, audit.detail)
                .where(audit.action == "reconcile.settlement_superseded")
                .order_by(audit.id)
            )
        ).all()
    assert [(int(row.target_id), row.detail["superseded_by"]) for row in rows] == [
        (older.statement.id, first.statement.id),
        (first.statement.id, latest.statement.id),
    ]
    assert rows[0].detail["provider"] == "vnpay"
    assert rows[0].detail["business_date"] == DAY.isoformat()


def _superseded(logs: Sequence[MutableMapping[str, Any]]) -> list[tuple[int, int]]:
    return [
        (entry["old_statement"], entry["new_statement"])
        for entry in logs
        if entry["event"] == "settlement_report_superseded"
    ]


async def _import_at(uow: WorkFactory, content: bytes, clock: Callable[[], datetime]) -> Imported:
    report = read_settlement("vnpay", io.BytesIO(content))
    return await import_settlement(
        uow, report, business_date=DAY, actor="ops", now=NIGHT, clock=clock
    )


def _camt(day: date) -> bytes:
    text = "".join(camt053([], statement_id=f"KBNN-{day}", account="7111", currency="VND", day=day))
    return text.encode()


async def test_a_camt_statement_of_another_day_is_refused_whole(
    uow_factory: WorkFactory,
) -> None:
    tuesday = DAY - timedelta(days=1)
    with pytest.raises(StatementError) as caught:
        await import_statement(
            uow_factory, read_camt(io.BytesIO(_camt(tuesday))), business_date=DAY, actor="ops",
            now=NIGHT,
        )  # fmt: skip
    assert caught.value.detail == "the statement covers 2025-03-11..2025-03-11, not 2025-03-12"
    assert await list_statements(uow_factory) == []
    # Its own day takes it; a CSV (no period) is taken for any day, as before.
    imported = await import_statement(
        uow_factory, read_camt(io.BytesIO(_camt(DAY))), business_date=DAY, actor="ops", now=NIGHT
    )
    assert imported.created
    assert (await import_csv(uow_factory, statement(csv_line("x", booked=tuesday)))).created
