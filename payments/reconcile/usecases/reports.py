"""What staff read and do after a run: the runs and a run's report (totals per outcome,
breakdowns by agency, treasury code, chapter, sub-item and provider), its items page by page or
as CSV, one item with its history, and the exception workflow (``resolve_item``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from payments.domain.csv_cells import csv_cell
from payments.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from payments.domain.events import AuditEntry
from payments.domain.text import normalise, text_problem
from payments.reconcile.ports import (
    Breakdown,
    Dimension,
    HistoryEntry,
    ItemFilter,
    ItemState,
    ItemValue,
    ReconcileWorkFactory,
    Resolution,
    RunRecord,
    StoredItem,
    StoredStatement,
    item_fields,
)
from payments.reconcile.usecases.write import item_key

MAX_NOTE = 2_000
ALL_ITEMS = ItemFilter()


# --- the exception workflow ---------------------------------------------------------------


async def resolve_item(
    uow_factory: ReconcileWorkFactory, item_id: int, *, note: str, actor: str, now: datetime
) -> StoredItem:
    note = normalise(note)
    if not note or len(note) > MAX_NOTE:
        raise InvalidInput([FieldProblem("note", f"1 to {MAX_NOTE} characters")])
    problem = text_problem(note)
    if problem:
        raise InvalidInput([FieldProblem("note", problem)])
    async with uow_factory() as uow:
        repo = uow.reconciliation
        stored = await repo.item(item_id, lock=True)
        if stored is None:
            raise NotFound(f"no reconciliation item {item_id}")
        if stored.state is ItemState.CLOSED:
            raise Conflict(f"item {item_id} is {stored.item.outcome.value}: nothing to resolve")
        if stored.state is ItemState.RESOLVED:
            raise Conflict(f"item {item_id} was resolved by {stored.resolved_by}")
        run = await repo.run(stored.run_id)
        if run is None:  # pragma: no cover - foreign key
            raise NotFound(f"run {stored.run_id} is gone")
        await repo.resolve(item_id, Resolution(note, actor, now))
        key = stored.item_key or item_key(stored.item)
        await repo.add_history(
            [HistoryEntry(run.business_date, key, run.id, "resolved", actor, note, now)]
        )
        await uow.audit.record(
            AuditEntry(
                action="reconcile.item_resolved",
                actor=actor,
                occurred_at=now,
                target_type="reconcile_item",
                target_id=str(item_id),
                detail={"outcome": stored.item.outcome.value, "note": note},
            )
        )
        await uow.commit()
        resolved = await repo.item(item_id)
    if resolved is None:  # pragma: no cover - just written
        raise NotFound(f"no reconciliation item {item_id}")
    return resolved


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    run: RunRecord
    breakdowns: dict[Dimension, list[Breakdown]] = field(default_factory=dict)
    is_latest: bool = True


async def list_runs(
    uow_factory: ReconcileWorkFactory,
    *,
    before_id: int | None = None,
    limit: int = 50,
    business_date: date | None = None,
) -> Sequence[RunRecord]:
    async with uow_factory() as uow:
        return await uow.reconciliation.runs(
            before_id=before_id, limit=limit, business_date=business_date
        )


async def run_report(
    uow_factory: ReconcileWorkFactory,
    run_id: int,
    dimensions: Collection[Dimension] = tuple(Dimension),
) -> RunReport:
    async with uow_factory() as uow:
        repo = uow.reconciliation
        run = await repo.run(run_id)
        if run is None:
            raise NotFound(f"no reconciliation run {run_id}")
        latest = await repo.latest_run(run.business_date)
        breakdowns = {
            d: list(await repo.breakdown(run_id, d)) for d in Dimension if d in dimensions
        }
    return RunReport(run, breakdowns, is_latest=latest is not None and latest.id == run.id)


async def list_items(
    uow_factory: ReconcileWorkFactory,
    run_id: int,
    flt: ItemFilter = ALL_ITEMS,
    *,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[StoredItem]:
    async with uow_factory() as uow:
        if await uow.reconciliation.run(run_id) is None:
            raise NotFound(f"no reconciliation run {run_id}")
        return await uow.reconciliation.items(run_id, flt, after_id=after_id, limit=limit)


async def list_statements(
    uow_factory: ReconcileWorkFactory,
    *,
    before_id: int | None = None,
    limit: int = 50,
    business_date: date | None = None,
    source: str | None = None,
) -> Sequence[StoredStatement]:
    """Imported treasury statements and settlement reports, newest first: all of them,
    superseded settlement reports included (marked ``superseded``)."""
    async with uow_factory() as uow:
        return await uow.reconciliation.statements(
            before_id=before_id, limit=limit, business_date=business_date, source=source
        )


async def statement_detail(uow_factory: ReconcileWorkFactory, statement_id: int) -> StoredStatement:
    async with uow_factory() as uow:
        found = await uow.reconciliation.statement(statement_id)
    if found is None:
        raise NotFound(f"no statement {statement_id}")
    return found


@dataclass(frozen=True)
class ItemDetail:
    item: StoredItem
    run: RunRecord
    history: Sequence[HistoryEntry]


async def item_detail(uow_factory: ReconcileWorkFactory, item_id: int) -> ItemDetail:
    async with uow_factory() as uow:
        repo = uow.reconciliation
        stored = await repo.item(item_id)
        if stored is None:
            raise NotFound(f"no reconciliation item {item_id}")
        run = await repo.run(stored.run_id)
        if run is None:  # pragma: no cover - foreign key
            raise NotFound(f"run {stored.run_id} is gone")
        history = await repo.history(run.business_date, stored.item_key) if stored.item_key else []
    return ItemDetail(stored, run, history)


CSV_COLUMNS = (
    "item_id",
    "outcome",
    "state",
    "payment_id",
    "refund_id",
    "line_number",
    "currency",
    "gateway_amount",
    "treasury_amount",
    "reference",
    "batch_reference",
    "agency",
    "treasury_code",
    "chapter",
    "sub_item",
    "provider",
    "booking_date",
    "days_late",
    "note",
    "resolution_note",
    "resolved_by",
    "resolved_at",
)


def _csv_row(stored: StoredItem) -> list[str | int]:
    """One item as CSV cells, each through ``csv_cell``: text that could run as a formula
    in a spreadsheet is quoted (a statement's batch reference, a provider's reference, a
    note), amounts and counts stay numbers."""
    fields = item_fields(stored)
    fields["item_id"] = fields["id"]
    return [csv_cell(_csv_value(fields[name])) for name in CSV_COLUMNS]


def _csv_value(value: ItemValue) -> str | int | None:
    return value.isoformat() if isinstance(value, date | datetime) else value


async def export_items_csv(
    uow_factory: ReconcileWorkFactory,
    run_id: int,
    flt: ItemFilter = ALL_ITEMS,
    *,
    page: int = 5_000,
) -> AsyncIterator[str]:
    """The run's items as CSV text, a page at a time (never the whole run in memory)."""
    async with uow_factory() as uow:
        if await uow.reconciliation.run(run_id) is None:
            raise NotFound(f"no reconciliation run {run_id}")

    async def chunks() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        after: int | None = None
        while True:
            async with uow_factory() as uow:
                items = await uow.reconciliation.items(run_id, flt, after_id=after, limit=page)
            for stored in items:
                writer.writerow(_csv_row(stored))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(items) < page:
                return
            after = items[-1].id

    return chunks()
