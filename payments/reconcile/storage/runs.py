"""Runs and their items in storage: a run's record, its items (on PostgreSQL as one
``COPY``), their history and workflow, the remittances it posted, and the queries the reports
read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from itertools import islice
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.db.drivers import asyncpg_connection
from payments.reconcile.ports import (
    Breakdown,
    Dimension,
    HistoryEntry,
    ItemFilter,
    ItemRow,
    ItemState,
    OutcomeTotal,
    Remittance,
    Resolution,
    RunRecord,
    SettlementRecord,
    StoredItem,
)
from payments.reconcile.rules.matching import MatchItem, Outcome
from payments.reconcile.storage.batches import CHUNK
from payments.reconcile.storage.tables import (
    reconcile_item_history,
    reconcile_items,
    reconcile_remittances,
    reconcile_runs,
    reconcile_settlements,
)

_SETTLEMENT_COLUMNS = ("payment_id", "business_date", "run_id", "provider", "fee", "entry_id")
_ITEM_COLUMNS = (
    "run_id",
    "item_key",
    "outcome",
    "payment_id",
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
    "refund_id",
    "state",
    "resolution_note",
    "resolved_by",
    "resolved_at",
)


def _item_record(run_id: int, row: ItemRow) -> tuple[Any, ...]:
    item = row.item
    return (
        run_id,
        row.item_key,
        item.outcome.value,
        item.payment_id,
        item.line_number,
        item.currency,
        item.gateway_amount,
        item.treasury_amount,
        item.reference,
        item.batch_reference,
        item.agency,
        item.treasury_code,
        item.chapter,
        item.sub_item,
        item.provider,
        item.booking_date,
        item.days_late,
        item.note,
        item.refund_id,
        row.state.value,
        row.resolution_note,
        row.resolved_by,
        row.resolved_at,
    )


def _run(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        business_date=row.business_date,
        started_at=row.started_at,
        finished_at=row.finished_at,
        actor=row.actor,
        statements=tuple(row.statements),
        config=dict(row.config),
        totals={key: OutcomeTotal(**value) for key, value in row.totals.items()},
        item_count=row.item_count,
        matched_gateway_total=row.matched_gateway_total,
        matched_treasury_total=row.matched_treasury_total,
        posted_payments=row.posted_payments,
        posted_entries=row.posted_entries,
        settled_payments=row.settled_payments,
        awaiting_settlement=row.awaiting_settlement,
    )


def _item(row: Any) -> StoredItem:
    return StoredItem(
        id=row.id,
        run_id=row.run_id,
        item_key=row.item_key,
        item=MatchItem(*(row._mapping[name] for name in _ITEM_COLUMNS[2:19]))._replace(
            outcome=Outcome(row.outcome)
        ),
        state=ItemState(row.state),
        resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


class SqlRuns:
    """Runs, their items and the items' history, and remittances: a part of
    ``SqlReconciliation``, which sets the connection."""

    _conn: AsyncConnection
    _postgres: bool

    async def add_run(self, run: RunRecord) -> int:
        result = await self._conn.execute(
            insert(reconcile_runs)
            .values(
                business_date=run.business_date,
                started_at=run.started_at,
                finished_at=run.finished_at,
                actor=run.actor,
                statements=list(run.statements),
                config=run.config,
                totals={key: total.__dict__ for key, total in run.totals.items()},
                item_count=run.item_count,
                matched_gateway_total=run.matched_gateway_total,
                matched_treasury_total=run.matched_treasury_total,
                posted_payments=run.posted_payments,
                posted_entries=run.posted_entries,
                settled_payments=run.settled_payments,
                awaiting_settlement=run.awaiting_settlement,
            )
            .returning(reconcile_runs.c.id)
        )
        return int(result.scalar_one())

    async def add_items(self, run_id: int, rows: Iterable[ItemRow]) -> None:
        if self._postgres:
            driver = await asyncpg_connection(self._conn)
            # One COPY fed by a generator: asyncpg encodes and sends the records as they come,
            # so the server stores a part while the next is being built (the rows of a day
            # are never all in memory at once, and no worker thread is needed).
            await driver.copy_records_to_table(
                "reconcile_items",
                # MatchItem's fields are the columns from outcome to refund_id, in order.
                records=((run_id, r[0], *r[1], r[2], r[3], r[4], r[5]) for r in rows),
                columns=_ITEM_COLUMNS,
            )
            return
        rows = iter(rows)
        while chunk := list(islice(rows, CHUNK)):
            await self._conn.execute(
                insert(reconcile_items),
                [dict(zip(_ITEM_COLUMNS, _item_record(run_id, row), strict=True)) for row in chunk],
            )

    async def add_history(self, entries: Iterable[HistoryEntry]) -> None:
        rows = [entry.__dict__ for entry in entries]
        for start in range(0, len(rows), CHUNK):
            await self._conn.execute(insert(reconcile_item_history), rows[start : start + CHUNK])

    async def add_remittances(self, remittance: Remittance, payment_ids: Sequence[str]) -> None:
        if not payment_ids:
            return
        day, run_id, entry = remittance.business_date, remittance.run_id, remittance.entry_id
        if self._postgres:
            driver = await asyncpg_connection(self._conn)
            await driver.copy_records_to_table(
                "reconcile_remittances",
                records=[(pid, day, run_id, entry) for pid in payment_ids],
                columns=("payment_id", "business_date", "run_id", "entry_id"),
            )
            return
        for start in range(0, len(payment_ids), CHUNK):
            await self._conn.execute(
                insert(reconcile_remittances),
                [
                    {
                        "payment_id": pid,
                        "business_date": day,
                        "run_id": run_id,
                        "entry_id": entry,
                    }
                    for pid in payment_ids[start : start + CHUNK]
                ],
            )

    async def passed_on(self, payment_id: str) -> tuple[date | None, date | None]:
        s, r = reconcile_settlements.c, reconcile_remittances.c
        settled = await self._conn.scalar(select(s.business_date).where(s.payment_id == payment_id))
        confirmed = await self._conn.scalar(
            select(r.business_date).where(r.payment_id == payment_id)
        )
        return settled, confirmed

    async def post_awaiting(self, entry_id: int, payment_ids: Sequence[str]) -> None:
        r = reconcile_remittances.c
        for start in range(0, len(payment_ids), CHUNK):
            await self._conn.execute(
                update(reconcile_remittances)
                .where(r.payment_id.in_(payment_ids[start : start + CHUNK]), r.entry_id.is_(None))
                .values(entry_id=entry_id)
            )

    async def add_settlements(
        self, settlement: SettlementRecord, fees: Sequence[tuple[str, str, int]]
    ) -> None:
        if not fees:
            return
        day, run_id, entry = settlement.business_date, settlement.run_id, settlement.entry_id
        records = [(pid, day, run_id, provider, fee, entry) for pid, provider, fee in fees]
        if self._postgres:
            driver = await asyncpg_connection(self._conn)
            await driver.copy_records_to_table(
                "reconcile_settlements", records=records, columns=_SETTLEMENT_COLUMNS
            )
            return
        for start in range(0, len(records), CHUNK):
            await self._conn.execute(
                insert(reconcile_settlements),
                [
                    dict(zip(_SETTLEMENT_COLUMNS, record, strict=True))
                    for record in records[start : start + CHUNK]
                ],
            )

    async def resolutions(self, run_id: int) -> dict[str, Resolution]:
        i = reconcile_items.c
        rows = await self._conn.execute(
            select(i.item_key, i.resolution_note, i.resolved_by, i.resolved_at).where(
                i.run_id == run_id,
                i.state == ItemState.RESOLVED.value,
                i.item_key.is_not(None),
            )
        )
        return {
            row.item_key: Resolution(row.resolution_note or "", row.resolved_by, row.resolved_at)
            for row in rows
        }

    async def latest_run(self, business_date: date) -> RunRecord | None:
        r = reconcile_runs.c
        row = (
            await self._conn.execute(
                select(reconcile_runs)
                .where(r.business_date == business_date)
                .order_by(r.id.desc())
                .limit(1)
            )
        ).first()
        return _run(row) if row is not None else None

    async def run(self, run_id: int) -> RunRecord | None:
        row = (
            await self._conn.execute(select(reconcile_runs).where(reconcile_runs.c.id == run_id))
        ).first()
        return _run(row) if row is not None else None

    async def runs(
        self, *, before_id: int | None, limit: int, business_date: date | None = None
    ) -> Sequence[RunRecord]:
        r = reconcile_runs.c
        query = select(reconcile_runs).order_by(r.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(r.id < before_id)
        if business_date is not None:
            query = query.where(r.business_date == business_date)
        return [_run(row) for row in await self._conn.execute(query)]

    async def items(
        self, run_id: int, flt: ItemFilter, *, after_id: int | None, limit: int
    ) -> Sequence[StoredItem]:
        i = reconcile_items.c
        conditions = [i.run_id == run_id]
        if after_id is not None:
            conditions.append(i.id > after_id)
        if flt.outcomes:
            conditions.append(i.outcome.in_(sorted(o.value for o in flt.outcomes)))
        if flt.state is not None:
            conditions.append(i.state == flt.state.value)
        for name in (
            "agency", "provider", "treasury_code", "chapter", "sub_item", "payment_id", "refund_id"
        ):  # fmt: skip
            value = getattr(flt, name)
            if value is not None:
                conditions.append(i[name] == value)
        rows = await self._conn.execute(
            select(reconcile_items).where(and_(*conditions)).order_by(i.id).limit(limit)
        )
        return [_item(row) for row in rows]

    async def item(self, item_id: int, *, lock: bool = False) -> StoredItem | None:
        query = select(reconcile_items).where(reconcile_items.c.id == item_id)
        if lock and self._postgres:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _item(row) if row is not None else None

    async def resolve(self, item_id: int, resolution: Resolution) -> None:
        await self._conn.execute(
            update(reconcile_items)
            .where(reconcile_items.c.id == item_id)
            .values(
                state=ItemState.RESOLVED.value,
                resolution_note=resolution.note,
                resolved_by=resolution.actor,
                resolved_at=resolution.at,
            )
        )

    async def annotate(self, item_id: int, note: str) -> None:
        await self._conn.execute(
            update(reconcile_items).where(reconcile_items.c.id == item_id).values(note=note)
        )

    async def history(self, business_date: date, item_key: str) -> Sequence[HistoryEntry]:
        h = reconcile_item_history.c
        rows = await self._conn.execute(
            select(h.business_date, h.item_key, h.run_id, h.action, h.actor, h.note, h.occurred_at)
            .where(h.business_date == business_date, h.item_key == item_key)
            .order_by(h.id)
        )
        return [HistoryEntry(*row) for row in rows]

    async def breakdown(self, run_id: int, by: Dimension) -> Sequence[Breakdown]:
        i = reconcile_items.c
        key = i[by.value]
        rows = await self._conn.execute(
            select(
                key,
                i.outcome,
                func.count(),
                func.coalesce(func.sum(i.gateway_amount), 0),
                func.coalesce(func.sum(i.treasury_amount), 0),
            )
            .where(i.run_id == run_id)
            .group_by(key, i.outcome)
            .order_by(key, i.outcome)
        )
        return [
            Breakdown(row[0], Outcome(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in rows
        ]
