"""Refunds on the real databases: the flow, the database guards, and (PostgreSQL) many
officers refunding one payment at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.domain.attempts import Provider
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import verify_ledger
from payments.providers.refunds import (
    RefundOutcome,
    RefundRequest,
    RefundSucceeded,
    RefundUnknown,
)
from payments.refunds.ports import RefundFilter
from payments.refunds.rules.lifecycle import RefundExceedsAvailable, RefundStatus
from payments.refunds.storage import tables as rt
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund, process_due_refunds
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.refund_support import Paid, Providers, ScriptedProvider, ask, paid_payment

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
R = RefundStatus


async def nets(uow_factory: SqlUnitOfWorkFactory) -> Counter[str]:
    async with uow_factory() as uow:
        totals = await uow.ledger.totals(as_of=None)
    found: Counter[str] = Counter({t.account.code: t.net for t in totals})
    assert sum(found.values()) == 0
    return found


async def test_refund_flow_with_a_timeout_settled_by_the_status_query(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    paid = await paid_payment(uow_factory, NOW)
    scripted = ScriptedProvider(refunds=[RefundUnknown("timed out")])
    providers = Providers({Provider.VNPAY: scripted})
    asked = await ask(uow_factory, paid.officer(1), paid.payment.id, 100_000, NOW)
    assert asked.refund is not None
    unknown = await execute_refund(uow_factory, providers, asked.refund.id, now=NOW)
    assert unknown.status is R.UNKNOWN
    scripted.statuses.append(RefundSucceeded(100_000, "RF1", "00"))
    run = await process_due_refunds(uow_factory, providers, now=NOW + timedelta(minutes=1))
    assert (run.checked, run.settled) == (1, 1)
    refund = await service.get_refund(uow_factory, paid.officer(1), asked.refund.id)
    assert refund.status is R.SUCCEEDED
    assert len(scripted.sent) == 1
    books = await nets(uow_factory)
    assert books["clearing:vnpay"] == 50_000
    assert books[f"budget-payable:{paid.code}:2662"] == -50_000
    assert books["refunds-payable"] == 0
    events = await service.refund_events(uow_factory, paid.officer(1), refund.id)
    assert [e.to_status for e in events] == ["approved", "processing", "unknown", "succeeded"]
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, report.problems


async def test_approval_and_rejection_persist(uow_factory: SqlUnitOfWorkFactory) -> None:
    paid = await paid_payment(uow_factory, NOW, amount=5_000_000)
    first = await ask(uow_factory, paid.officer(1), paid.payment.id, 2_000_000, NOW)
    later = NOW + timedelta(seconds=1)  # ids are time-ordered: keep the order known
    second = await ask(uow_factory, paid.officer(1), paid.payment.id, 3_000_000, later)
    assert first.refund is not None
    assert second.refund is not None
    approved = await service.approve_refund(
        uow_factory, paid.officer(2), first.refund.id, note="checked", now=NOW
    )
    await service.reject_refund(uow_factory, paid.officer(2), second.refund.id, note="no", now=NOW)
    summary = await service.payment_refunds(uow_factory, paid.officer(1), paid.payment.id)
    assert [r.status for r in summary.refunds] == [R.APPROVED, R.REJECTED]
    assert summary.refunds[0] == approved
    assert (summary.totals.in_flight, summary.totals.available) == (2_000_000, 3_000_000)
    rows, more = await service.list_refunds(
        uow_factory,
        paid.officer(1),
        RefundFilter(statuses=frozenset({R.REJECTED})),
        before_id=None,
        limit=10,
    )
    assert ([r.id for r in rows], more) == ([second.refund.id], False)


async def test_the_database_refuses_self_approval_and_over_refunds(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    paid = await paid_payment(uow_factory, NOW)
    asked = await ask(uow_factory, paid.officer(1), paid.payment.id, 150_000, NOW)
    assert asked.refund is not None
    refunds = rt.refunds
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                update(refunds)
                .where(refunds.c.id == asked.refund.id)
                .values(approved_by=asked.refund.requested_by)
            )
    # A second refund row written behind the service's back still cannot exceed the capture.
    extra = replace(asked.refund, id="rfd_extra", request_id="rfd_extra", amount=1)

    async def add_behind_the_service() -> None:
        async with uow_factory() as uow:
            await uow.refunds.add(extra)
            await uow.commit()

    with pytest.raises(IntegrityError, match="exceed what it captured"):
        await add_behind_the_service()
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE refunds SET next_action_at = NULL"))


@dataclass
class SlowProvider:
    """Succeeds after a pause, so concurrent runs overlap; counts what it got."""

    sent: Counter[str] = field(default_factory=Counter)
    refunds_told_apart: bool = True

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        self.sent[request.request_id] += 1
        await asyncio.sleep(0.01)
        return RefundSucceeded(request.amount, f"R-{request.request_id}", "00")

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        raise AssertionError("nothing is unknown here")


@pytest.mark.postgres_only
async def test_fifty_concurrent_partial_refunds_never_exceed_the_capture(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    paid: Paid = await paid_payment(uow_factory, NOW, amount=150_000)
    amounts = [7_000 + 1_000 * (n % 5) for n in range(50)]  # 7k..11k, 450k asked in all

    async def one(n: int) -> int:
        try:
            who = paid.officer(1 + n % 3)
            asked = await ask(uow_factory, who, paid.payment.id, amounts[n], NOW)
        except RefundExceedsAvailable:
            return 0
        assert asked.refund is not None
        return asked.refund.amount

    granted = await asyncio.gather(*(one(n) for n in range(50)))
    accepted = sum(granted)
    assert accepted <= 150_000
    assert accepted > 150_000 - max(amounts)  # refused only once nothing more fitted
    summary = await service.payment_refunds(uow_factory, paid.officer(1), paid.payment.id)
    assert summary.totals.in_flight == accepted
    assert summary.totals.available == 150_000 - accepted

    provider = SlowProvider()
    providers = Providers({Provider.VNPAY: provider})
    # Two workers at once: SKIP LOCKED claims give each refund to one of them.
    await asyncio.gather(
        process_due_refunds(uow_factory, providers, now=NOW, limit=100),
        process_due_refunds(uow_factory, providers, now=NOW, limit=100),
    )
    assert set(provider.sent.values()) == {1}
    summary = await service.payment_refunds(uow_factory, paid.officer(1), paid.payment.id)
    refunded = sum(r.amount for r in summary.refunds if r.status is R.SUCCEEDED)
    assert refunded == accepted == summary.totals.refunded
    assert len(provider.sent) == sum(1 for g in granted if g)
    books = await nets(uow_factory)
    assert books["clearing:vnpay"] == 150_000 - refunded
    assert books[f"budget-payable:{paid.code}:2662"] == -(150_000 - refunded)
    assert books["refunds-payable"] == 0
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, report.problems
