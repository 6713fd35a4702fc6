"""The database gauges of /metrics, read at scrape time on one connection, no lock taken.

Each query is bounded by an index, not by the size of the tables, so a scrape costs the same
on a national year of payments as on the demo's:

- recent payments: the primary-key range of the ids minted in the window (ids are
  time-ordered, ``domain/ids.py``), joined to the attempts of the same range;
- the outbox: ``ix_notifications_due`` (pending notifications only);
- the requery queue: ``ix_payment_attempts_requery``; left for review:
  ``ix_payment_attempts_left_for_review``;
- open refunds: ``ix_refunds_due`` covers the queued ones; the refunds table is small beside
  the payments (a refund is rare);
- unsealed entries: the sealing queue itself (``ledger_unsealed``), short while the worker
  seals;
- open reconciliation exceptions: ``ix_reconcile_items_open`` (open items only), in the
  newest run of each business day (the runs are a few a day).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments.adapters.db.tables import payment_attempts, payments
from payments.adapters.metrics import DatabaseGauges
from payments.domain.attempts import OPEN_ATTEMPT, AttemptStatus, Provider
from payments.domain.ids import PAYMENT_ID_PREFIX, id_bound
from payments.ledger.tables import ledger_unsealed
from payments.notifications.tables import notifications
from payments.reconcile.ports import ItemState
from payments.reconcile.rules.matching import EXCEPTIONS
from payments.reconcile.storage.tables import reconcile_items, reconcile_runs
from payments.refunds.rules.lifecycle import RefundStatus
from payments.refunds.storage.tables import refunds

ATTEMPT_ID_PREFIX = "att_"  # domain/attempts.py new_attempt_id
FINISHED_REFUNDS = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.REJECTED})
OPEN_REFUND_STATUSES = tuple(s.value for s in RefundStatus if s not in FINISHED_REFUNDS)


async def database_gauges(
    engine: AsyncEngine, *, now: datetime, payments_window: timedelta
) -> DatabaseGauges:
    async with engine.connect() as conn:
        recent = await _recent_payments(conn, now - payments_window)
        pending, due, oldest = await _outbox(conn, now)
        scheduled, requery_due, review = await _attempt_queues(conn, now)
        # Every provider and open status, zero when none: a series never vanishes.
        open_refunds = {(p.value, s): 0 for p in Provider for s in OPEN_REFUND_STATUSES}
        open_refunds |= {
            (row[0], row[1]): int(row[2])
            for row in await conn.execute(
                select(refunds.c.provider, refunds.c.status, func.count())
                .where(refunds.c.status.in_(OPEN_REFUND_STATUSES))
                .group_by(refunds.c.provider, refunds.c.status)
            )
        }
        unsealed = (await conn.execute(select(func.count()).select_from(ledger_unsealed))).scalar()
        exceptions, last_run = await _reconciliation(conn)
    return DatabaseGauges(
        recent_payments=recent,
        payments_window_seconds=int(payments_window.total_seconds()),
        outbox_pending=pending,
        outbox_due=due,
        outbox_oldest_pending_age_seconds=max(0, int((now - oldest).total_seconds()))
        if oldest
        else 0,
        requery_scheduled=scheduled,
        requery_due=requery_due,
        attempts_left_for_review=review,
        refunds_open=open_refunds,
        ledger_unsealed_entries=int(unsealed or 0),
        reconciliation_open_exceptions=exceptions,
        reconciliation_last_run_at=last_run,
    )


async def _recent_payments(conn: AsyncConnection, since: datetime) -> dict[tuple[str, str], int]:
    a, p = payment_attempts.c, payments.c
    # An attempt is never older than its payment: the attempts of the window's payments all
    # lie in the attempts' own id range from the same moment.
    ranked = (
        select(
            a.payment_id,
            a.provider,
            func.row_number()
            .over(
                partition_by=a.payment_id,
                order_by=(
                    case((a.status == AttemptStatus.SUCCEEDED.value, 0), else_=1),
                    a.id.desc(),
                ),
            )
            .label("rank"),
        )
        .where(a.id >= id_bound(ATTEMPT_ID_PREFIX, since))
        .subquery()
    )
    rows = await conn.execute(
        select(p.status, ranked.c.provider, func.count())
        .select_from(
            payments.outerjoin(ranked, and_(ranked.c.payment_id == p.id, ranked.c.rank == 1))
        )
        .where(p.id >= id_bound(PAYMENT_ID_PREFIX, since))
        .group_by(p.status, ranked.c.provider)
    )
    return {(row[0], row[1] or "none"): int(row[2]) for row in rows}


async def _outbox(conn: AsyncConnection, now: datetime) -> tuple[int, int, datetime | None]:
    n = notifications.c
    row = (
        await conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((n.next_attempt_at <= now, 1), else_=0)), 0),
                func.min(n.occurred_at),
            ).where(n.state == "pending")
        )
    ).one()
    return int(row[0]), int(row[1]), row[2]


async def _attempt_queues(
    conn: AsyncConnection, now: datetime
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    a = payment_attempts.c
    scheduled, due = {}, {}
    for row in await conn.execute(
        select(
            a.provider,
            func.count(),
            func.coalesce(func.sum(case((a.next_query_at <= now, 1), else_=0)), 0),
        )
        .where(a.next_query_at.is_not(None))
        .group_by(a.provider)
    ):
        scheduled[row[0]], due[row[0]] = int(row[1]), int(row[2])
    review = {
        row[0]: int(row[1])
        for row in await conn.execute(
            select(a.provider, func.count())
            .where(
                a.left_for_review_at.is_not(None),
                a.status.in_(sorted(s.value for s in OPEN_ATTEMPT)),
            )
            .group_by(a.provider)
        )
    }
    return scheduled, due, review


async def _reconciliation(conn: AsyncConnection) -> tuple[dict[str, int], datetime | None]:
    i, r = reconcile_items.c, reconcile_runs.c
    newest_of_each_day = select(func.max(r.id)).group_by(r.business_date)
    exceptions = {outcome.value: 0 for outcome in EXCEPTIONS}
    exceptions |= {
        row[0]: int(row[1])
        for row in await conn.execute(
            select(i.outcome, func.count())
            .where(i.state == ItemState.OPEN.value, i.run_id.in_(newest_of_each_day))
            .group_by(i.outcome)
        )
    }
    last_run = (await conn.execute(select(r.finished_at).order_by(r.id.desc()).limit(1))).scalar()
    return exceptions, last_run
