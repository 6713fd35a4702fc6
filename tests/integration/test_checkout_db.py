"""Checkout use cases on SQLite and PostgreSQL: attempts, callbacks and capture postings."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from payments.adapters.db import tables as t
from payments.collection.usecases import checkout
from payments.collection.usecases import payments as service
from payments.domain.attempts import AttemptStatus, Provider, ProviderOutcome, Result, Verdict
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.domain.errors import AttemptRefused
from payments.domain.payments import Payment, PaymentStatus
from payments.ledger import chart
from payments.services.ports import PaymentFilter
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.factories import created_payment

NOW = datetime.now(UTC).replace(microsecond=0)
MERCHANT = "DEMOTMN1"


async def new_payment(uow: SqlUnitOfWorkFactory) -> Payment:
    return await created_payment(uow, NOW)


def paid(started: checkout.StartedAttempt, result: Result = Result.SUCCEEDED) -> ProviderOutcome:
    return ProviderOutcome(
        Provider.VNPAY,
        started.attempt.provider_ref,
        MERCHANT,
        started.attempt.amount,
        "VND",
        result,
        "00" if result is Result.SUCCEEDED else "24",
        "14000001",
    )


def raw(ref: str) -> ProviderCallback:
    return ProviderCallback(
        provider=Provider.VNPAY,
        channel=Channel.IPN,
        payload={"vnp_TxnRef": ref, "vnp_ResponseCode": "00"},
        received_at=NOW,
        verification=VERIFIED,
        provider_ref=ref,
    )


async def start(
    uow: SqlUnitOfWorkFactory, payment: Payment, provider: Provider = Provider.VNPAY
) -> checkout.StartedAttempt:
    return await checkout.start_attempt(
        uow,
        token=payment.checkout_token,
        provider=provider,
        merchant=MERCHANT,
        currencies=frozenset({"VND"}),
        now=NOW,
    )


async def apply(
    uow: SqlUnitOfWorkFactory, what: ProviderOutcome, at: datetime = NOW
) -> checkout.Applied:
    return await checkout.apply_provider_outcome(uow, what, callback=raw(what.provider_ref), now=at)


async def capture_entries(uow: SqlUnitOfWorkFactory, payment: Payment) -> int:
    async with uow() as tx:
        found = await tx.ledger.entry_by_source_key(f"payment:{payment.id}:captured")
    return 0 if found is None else 1


async def test_duplicate_success_posts_one_entry(uow_factory: SqlUnitOfWorkFactory) -> None:
    payment = await new_payment(uow_factory)
    started = await start(uow_factory, payment)
    verdicts = [(await apply(uow_factory, paid(started))).verdict for _ in range(3)]
    assert verdicts == [Verdict.APPLIED, Verdict.DUPLICATE, Verdict.DUPLICATE]
    async with uow_factory() as tx:
        stored = await tx.payments.by_id(payment.id)
        attempts = await tx.attempts.for_payment(payment.id)
        callbacks = await tx.callbacks.for_payment(payment.id)
        entry = await tx.ledger.entry_by_source_key(f"payment:{payment.id}:captured")
        totals = {row.account.code: row.net for row in await tx.ledger.totals(as_of=None)}
    assert stored is not None
    assert stored.status is PaymentStatus.SUCCEEDED
    assert stored.flags.received_amount == 150_000
    assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED]
    assert attempts[0].next_query_at is None
    assert [c.verdict for c in callbacks] == [Verdict.APPLIED, *[Verdict.DUPLICATE] * 2]
    assert callbacks[0].payload["vnp_TxnRef"] == started.attempt.provider_ref
    assert entry is not None
    assert totals[chart.provider_clearing("vnpay").code] == 150_000
    assert totals[chart.budget_payable("DVC", "2662").code] == -150_000


async def test_concurrent_duplicate_successes_post_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    payment = await new_payment(uow_factory)
    started = await start(uow_factory, payment)
    results = await asyncio.gather(*(apply(uow_factory, paid(started)) for _ in range(5)))
    assert sorted(r.verdict for r in results) == sorted([Verdict.APPLIED, *[Verdict.DUPLICATE] * 4])
    assert await capture_entries(uow_factory, payment) == 1


async def test_failure_after_success_changes_nothing(uow_factory: SqlUnitOfWorkFactory) -> None:
    payment = await new_payment(uow_factory)
    started = await start(uow_factory, payment)
    await apply(uow_factory, paid(started))
    late_failure = await apply(uow_factory, paid(started, Result.FAILED))
    assert late_failure.verdict is Verdict.IGNORED
    async with uow_factory() as tx:
        stored = await tx.payments.by_id(payment.id)
        events = await tx.events.for_payment(payment.id)
    assert stored is not None
    assert stored.status is PaymentStatus.SUCCEEDED
    assert [e.to_status for e in events] == ["created", "pending", "succeeded"]


async def test_late_success_after_expiry_is_recorded_and_flagged(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    payment = await new_payment(uow_factory)
    started = await start(uow_factory, payment)
    assert await service.expire_due_payments(uow_factory, now=payment.expires_at) == 1
    late = await apply(uow_factory, paid(started), at=payment.expires_at + timedelta(minutes=5))
    assert late.verdict is Verdict.APPLIED
    async with uow_factory() as tx:
        stored = await tx.payments.by_id(payment.id)
        events = await tx.events.for_payment(payment.id)
    assert stored is not None
    assert stored.status is PaymentStatus.SUCCEEDED
    assert stored.flags.late
    assert stored.flags.needs_review
    assert (events[-1].from_status, events[-1].cause) == ("expired", "provider.vnpay.succeeded")
    assert await capture_entries(uow_factory, payment) == 1


async def test_database_allows_one_succeeded_attempt_per_payment(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    payment = await new_payment(uow_factory)
    first = await start(uow_factory, payment)
    second = await start(uow_factory, payment, Provider.MOMO)
    await apply(uow_factory, paid(first))
    a = t.payment_attempts
    async with uow_factory() as tx:
        with pytest.raises(IntegrityError):
            await tx.connection.execute(
                update(a).where(a.c.id == second.attempt.id).values(status="succeeded")
            )


async def test_checkout_token_and_unverified_callbacks(uow_factory: SqlUnitOfWorkFactory) -> None:
    payment = await new_payment(uow_factory)
    view = await checkout.checkout_view(uow_factory, payment.checkout_token)
    assert view.agency.code == "DVC"
    assert view.payable(NOW)
    started = await start(uow_factory, payment)
    stored = await checkout.record_callback(
        uow_factory,
        ProviderCallback(
            provider=Provider.VNPAY,
            channel=Channel.IPN,
            payload={"vnp_TxnRef": started.attempt.provider_ref},
            received_at=NOW,
            verification="bad_signature",
            provider_ref=started.attempt.provider_ref,
            verdict=Verdict.UNVERIFIED,
        ),
    )
    assert stored.id is not None
    assert stored.attempt_id == started.attempt.id


async def test_concurrent_choices_start_one_attempt(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Five choices of VNPay posted at once: the payment row is locked before its attempts
    are read, so one starts the attempt and the others find it (still without its page)."""
    payment = await new_payment(uow_factory)
    results = await asyncio.gather(
        *(start(uow_factory, payment) for _ in range(5)), return_exceptions=True
    )
    started = [r for r in results if isinstance(r, checkout.StartedAttempt)]
    refused = [r for r in results if isinstance(r, AttemptRefused)]
    assert (len(started), len(refused)) == (1, 4), results
    assert {r.reason for r in refused} == {"in_progress"}
    async with uow_factory() as tx:
        attempts = await tx.attempts.for_payment(payment.id)
        events = await tx.events.for_payment(payment.id)
    assert [a.id for a in attempts] == [started[0].attempt.id]
    assert [e.to_status for e in events] == ["created", "pending"]


async def test_unknown_and_review_are_stored(uow_factory: SqlUnitOfWorkFactory) -> None:
    payment = await new_payment(uow_factory)
    started = await start(uow_factory, payment, Provider.MOMO)
    unknown = await checkout.record_start(uow_factory, started.attempt.id, None, now=NOW)
    review = PaymentFilter(left_for_review=True)
    async with uow_factory() as tx:
        assert await tx.payments.page(payment.agency_id, review, before_id=None, limit=10) == []
        left = replace(unknown, next_query_at=None, left_for_review_at=NOW + timedelta(days=1))
        await tx.attempts.update(left)
        await tx.commit()
    async with uow_factory() as tx:
        stored = await tx.attempts.get(started.attempt.id)
        listed = await tx.payments.page(payment.agency_id, review, before_id=None, limit=10)
    assert stored == left
    assert stored.status is AttemptStatus.UNKNOWN
    assert [p.id for p in listed] == [payment.id]
