"""The database gauges of /metrics on SQLite and PostgreSQL, from states the services build:
payments and attempts, the outbox, the requery and refund queues, the sealing queue, and
reconciliation runs with open, resolved and rerun exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db.tables import payment_attempts
from payments.domain.attempts import Provider
from payments.ledger.sealing import seal_backlog
from payments.metrics_queries import database_gauges
from payments.reconcile.ports import ItemFilter, ItemState
from payments.reconcile.rules.matching import Outcome
from payments.reconcile.usecases.day import reconcile_day
from payments.reconcile.usecases.reports import list_items, resolve_item
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.reconcile_days import (
    CAPTURED,
    CREATED,
    DAY,
    NIGHT,
    csv_line,
    gateway,
    import_csv,
    statement,
)
from tests.support.refund_support import ask, paid_payment

WINDOW = timedelta(hours=1)
K = TypeVar("K")


def nonzero(counts: Mapping[K, int]) -> dict[K, int]:
    return {key: count for key, count in counts.items() if count}


async def test_an_empty_database_gives_zeros(engine: AsyncEngine) -> None:
    gauges = await database_gauges(engine, now=NIGHT, payments_window=WINDOW)
    assert gauges.recent_payments == {}
    assert (gauges.outbox_pending, gauges.outbox_due) == (0, 0)
    assert gauges.outbox_oldest_pending_age_seconds == 0
    assert gauges.requery_scheduled == gauges.requery_due == gauges.attempts_left_for_review == {}
    assert len(gauges.refunds_open) == 3 * 6  # providers x open statuses
    assert set(gauges.refunds_open.values()) == {0}
    assert ("vnpay", "awaiting_approval") in gauges.refunds_open
    assert ("vnpay", "succeeded") not in gauges.refunds_open
    assert gauges.ledger_unsealed_entries == 0
    assert "missing_at_treasury" in gauges.reconciliation_open_exceptions
    assert "matched" not in gauges.reconciliation_open_exceptions
    assert set(gauges.reconciliation_open_exceptions.values()) == {0}
    assert gauges.reconciliation_last_run_at is None
    assert gauges.payments_window_seconds == 3600


async def test_recent_payments_by_status_and_provider_within_the_window(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    gw = await gateway(uow_factory)
    await gw.paid()  # VNPay
    await gw.paid(provider=Provider.MOMO)
    await gw.started(provider=Provider.MOMO)
    await gw.payment()
    soon = CREATED + timedelta(minutes=30)
    gauges = await database_gauges(engine, now=soon, payments_window=WINDOW)
    assert gauges.recent_payments == {
        ("succeeded", "vnpay"): 1,
        ("succeeded", "momo"): 1,
        ("pending", "momo"): 1,
        ("created", "none"): 1,
    }
    # An hour and a minute later they are out of the window.
    later = CREATED + WINDOW + timedelta(minutes=1)
    assert (await database_gauges(engine, now=later, payments_window=WINDOW)).recent_payments == {}


async def test_the_queues(uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine) -> None:
    gw = await gateway(uow_factory)
    await gw.paid()
    open_momo = await gw.started(provider=Provider.MOMO)
    await gw.started(provider=Provider.VNPAY)
    await gw.started(provider=Provider.VIETQR)  # never queried: the bank tells us
    async with engine.begin() as conn:  # the ladder ended for the MoMo attempt
        await conn.execute(
            update(payment_attempts)
            .where(payment_attempts.c.id == open_momo.attempt.id)
            .values(left_for_review_at=CAPTURED)
        )
    far = CREATED + timedelta(days=2)
    gauges = await database_gauges(engine, now=far, payments_window=WINDOW)
    assert gauges.requery_scheduled == {"momo": 1, "vnpay": 1}
    assert gauges.requery_due == {"momo": 1, "vnpay": 1}
    assert gauges.attempts_left_for_review == {"momo": 1}
    before_any_query = await database_gauges(engine, now=CREATED, payments_window=WINDOW)
    assert before_any_query.requery_due == {"momo": 0, "vnpay": 0}
    # The paid payment's notification waits for the worker.
    assert gauges.outbox_pending >= 1
    assert gauges.outbox_due == gauges.outbox_pending
    assert gauges.outbox_oldest_pending_age_seconds >= (far - CAPTURED).total_seconds()
    assert gauges.ledger_unsealed_entries >= 1
    await seal_backlog(uow_factory, clock=lambda: far, batch=100)
    sealed = await database_gauges(engine, now=far, payments_window=WINDOW)
    assert sealed.ledger_unsealed_entries == 0


async def test_open_refunds_by_provider_and_status(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    paid = await paid_payment(uow_factory, CREATED)
    await ask(uow_factory, paid.officer(1), paid.payment.id, 10_000, CREATED)  # approved
    await ask(uow_factory, paid.officer(1), paid.payment.id, 20_000, CREATED)
    big = await paid_payment(uow_factory, CREATED, amount=5_000_000, provider=Provider.MOMO)
    await ask(uow_factory, big.officer(1), big.payment.id, 2_000_000, CREATED)  # above 1_000_000
    gauges = await database_gauges(engine, now=CREATED, payments_window=WINDOW)
    assert nonzero(gauges.refunds_open) == {
        ("vnpay", "approved"): 2,
        ("momo", "awaiting_approval"): 1,
    }


async def test_open_exceptions_of_the_newest_run_of_each_day(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    gw = await gateway(uow_factory)
    credited = await gw.paid()
    await gw.paid()  # neither of these two reached the treasury
    await gw.paid()
    stranger = "pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"
    await import_csv(uow_factory, statement(csv_line(credited.id), csv_line(stranger, 99_000)))
    first = await reconcile_day(uow_factory, DAY, now=NIGHT)
    gauges = await database_gauges(engine, now=NIGHT, payments_window=WINDOW)
    assert nonzero(gauges.reconciliation_open_exceptions) == {
        Outcome.MISSING_AT_TREASURY.value: 2,
        Outcome.UNKNOWN_AT_GATEWAY.value: 1,
    }
    assert gauges.reconciliation_last_run_at == NIGHT
    [missing, *_] = await list_items(
        uow_factory,
        first.run.id,
        ItemFilter(outcomes=frozenset({Outcome.MISSING_AT_TREASURY}), state=ItemState.OPEN),
        limit=10,
    )
    await resolve_item(uow_factory, missing.id, note="refunded by hand", actor="t1", now=NIGHT)
    resolved = await database_gauges(engine, now=NIGHT, payments_window=WINDOW)
    assert nonzero(resolved.reconciliation_open_exceptions) == {
        Outcome.MISSING_AT_TREASURY.value: 1,
        Outcome.UNKNOWN_AT_GATEWAY.value: 1,
    }
    # A rerun of the day replaces the first run's report: its items count, the first's not
    # (they stay open in the old run); the resolution is carried over.
    rerun_at = NIGHT + timedelta(hours=2)
    await reconcile_day(uow_factory, DAY, now=rerun_at)
    rerun = await database_gauges(engine, now=rerun_at, payments_window=WINDOW)
    assert rerun.reconciliation_open_exceptions == resolved.reconciliation_open_exceptions
    assert rerun.reconciliation_last_run_at == rerun_at
