"""Reading the gateway's state back after a step: one transaction for everything the
invariants look at, and a snapshot of every table to prove a refused operation changed none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables as t
from payments.collection.storage.payments import payment_from_row
from payments.db.metadata import metadata
from payments.domain.attempts import AttemptStatus
from payments.domain.payments import Payment
from payments.ledger.entries import Entry
from payments.ledger.ports import AccountTotals
from payments.reconcile.ports import ItemFilter, RunRecord, StoredItem
from payments.reconcile.storage.tables import reconcile_remittances, reconcile_settlements
from payments.refunds.rules.lifecycle import Refund
from payments.refunds.storage import tables as rt
from payments.refunds.storage.repository import refund_from_row
from payments.unit_of_work import SqlUnitOfWorkFactory

# What a refused operation may still write: the provider message it refused is kept as it
# came (callbacks), and an audit line may say it was refused.
MAY_CHANGE = frozenset({"provider_callbacks", "audit_log"})
_ALL = ItemFilter()


@dataclass(frozen=True)
class Stored:
    payments: dict[str, Payment]
    # status, next query, left for review
    attempts: dict[str, tuple[AttemptStatus, datetime | None, datetime | None]]
    refunds: dict[str, Refund]
    totals: list[AccountTotals]
    entries: list[Entry]
    settled: dict[str, tuple[date, int]]  # payment -> (day, fee)
    confirmed: dict[str, tuple[date, int | None]]  # payment -> (day, remittance entry)
    runs: dict[date, RunRecord]  # the latest run of each day
    items: dict[date, list[StoredItem]]


async def load(
    uow_factory: SqlUnitOfWorkFactory, payment_ids: Iterable[str], days: Iterable[date]
) -> Stored:
    entries: list[Entry] = []
    runs: dict[date, RunRecord] = {}
    items: dict[date, list[StoredItem]] = {}
    async with uow_factory() as uow:
        conn = uow.connection
        # Whole tables, three queries: the machine's database holds this example alone.
        payments = {p.id: p for p in map(payment_from_row, await conn.execute(select(t.payments)))}
        assert set(payment_ids) <= set(payments)
        a = t.payment_attempts.c
        attempts = {
            row.id: (AttemptStatus(row.status), row.next_query_at, row.left_for_review_at)
            for row in await conn.execute(
                select(a.id, a.status, a.next_query_at, a.left_for_review_at)
            )
        }
        refunds = {r.id: r for r in map(refund_from_row, await conn.execute(select(rt.refunds)))}
        totals = list(await uow.ledger.totals(as_of=None))
        while True:
            page = await uow.ledger.entries_after(entries[-1].id if entries else 0, 500)
            entries += page
            if len(page) < 500:
                break
        s, r = reconcile_settlements.c, reconcile_remittances.c
        settled = {
            row.payment_id: (row.business_date, row.fee)
            for row in await conn.execute(select(s.payment_id, s.business_date, s.fee))
        }
        confirmed = {
            row.payment_id: (row.business_date, row.entry_id)
            for row in await conn.execute(select(r.payment_id, r.business_date, r.entry_id))
        }
        for day in days:
            run = await uow.reconciliation.latest_run(day)
            if run is None:
                continue
            runs[day] = run
            items[day] = []
            after: int | None = None
            while True:
                found = await uow.reconciliation.items(run.id, _ALL, after_id=after, limit=500)
                items[day] += found
                if len(found) < 500:
                    break
                after = found[-1].id
    return Stored(payments, attempts, refunds, totals, entries, settled, confirmed, runs, items)


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but ``MAY_CHANGE``, in a comparable order."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in MAY_CHANGE:
                continue
            rows = (await conn.execute(select(table))).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found
