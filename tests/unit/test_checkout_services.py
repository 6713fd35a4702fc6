"""Checkout use cases on fakes: starting attempts and applying provider outcomes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from payments.collection.usecases import checkout
from payments.collection.usecases import payments as service
from payments.domain.attempts import (
    AttemptStatus,
    Provider,
    ProviderOutcome,
    Result,
    StartRefusal,
    Verdict,
)
from payments.domain.callbacks import Channel, ProviderCallback
from payments.domain.errors import AttemptRefused, CheckoutClosed, InvalidInput, NotFound
from payments.domain.payments import PaymentStatus
from tests.support.checkout_on_fakes import (
    MERCHANT,
    NOW,
    TAKES_VND,
    apply,
    new_payment,
    outcome,
    start,
)


async def test_start_attempt_moves_created_to_pending_with_an_event() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    assert started.payment.status is PaymentStatus.PENDING
    assert started.attempt.status is AttemptStatus.PENDING
    assert started.attempt.provider_ref == started.attempt.id
    assert started.attempt.next_query_at == NOW + timedelta(minutes=1)
    events = [e for e in uow.store.events if e.payment_id == payment.id]
    assert [(e.from_status, e.to_status, e.cause) for e in events][-1] == (
        "created",
        "pending",
        "checkout.vnpay",
    )


async def test_start_attempt_refuses_unknown_token_paid_and_overdue_payments() -> None:
    uow, payment = await new_payment()
    with pytest.raises(NotFound):
        await checkout.start_attempt(
            uow,
            token="nope",
            provider=Provider.VNPAY,
            merchant=MERCHANT,
            currencies=TAKES_VND,
            now=NOW,
        )
    with pytest.raises(CheckoutClosed) as overdue:
        await checkout.start_attempt(
            uow,
            token=payment.checkout_token,
            provider=Provider.VNPAY,
            merchant=MERCHANT,
            currencies=TAKES_VND,
            now=payment.expires_at,
        )
    assert overdue.value.status == "expired"
    started = await start(uow, payment)
    await apply(uow, outcome(started))
    with pytest.raises(CheckoutClosed):
        await start(uow, payment)


async def test_start_attempt_refuses_a_provider_that_cannot_take_the_currency() -> None:
    """A payment stored in USD before creation checked currencies is never sent to a provider
    that takes VND only (it would charge 1500 USD cents as 1.500 dong): nothing starts."""
    uow, payment = await new_payment()
    in_usd = replace(payment, draft=replace(payment.draft, amount=1500, currency="USD"))
    uow.store.payments[payment.id] = in_usd  # the row as it was stored before the fix
    events = list(uow.store.events)
    for provider in Provider:
        with pytest.raises(InvalidInput) as refused:
            await start(uow, in_usd, provider)
        assert [p.field for p in refused.value.problems] == ["provider"]
        assert "'USD' is not accepted" in refused.value.detail
        assert "accepted currencies: VND" in refused.value.detail
    assert uow.store.attempts == {}
    assert uow.store.payments[payment.id].status is PaymentStatus.CREATED
    assert uow.store.events == events
    # A provider that does take the currency may start an attempt at it.
    started = await checkout.start_attempt(
        uow,
        token=payment.checkout_token,
        provider=Provider.VNPAY,
        merchant=MERCHANT,
        currencies=frozenset({"VND", "USD"}),
        now=NOW,
    )
    assert (started.attempt.amount, started.attempt.currency) == (1500, "USD")


async def test_success_posts_one_balanced_capture_entry_even_when_repeated() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    first = await apply(uow, outcome(started))
    again = await apply(uow, outcome(started))
    assert (first.verdict, again.verdict) == (Verdict.APPLIED, Verdict.DUPLICATE)
    assert first.payment is not None
    assert first.payment.status is PaymentStatus.SUCCEEDED
    entries = uow.store.ledger.entries
    assert [e.source_key for e in entries] == [f"payment:{payment.id}:captured"]
    legs = {(leg.account.code, leg.side.value, leg.amount) for leg in entries[0].legs}
    assert legs == {
        ("clearing:vnpay", "debit", 150_000),
        ("budget-payable:DVC:2662", "credit", 150_000),
    }
    assert [c.verdict for c in uow.store.callbacks] == [Verdict.APPLIED, Verdict.DUPLICATE]
    assert uow.store.payments[payment.id].flags.received_amount == 150_000


async def test_failure_after_success_changes_nothing() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    await apply(uow, outcome(started))
    events_before = len(uow.store.events)
    late_failure = await apply(uow, outcome(started, Result.FAILED))
    assert late_failure.verdict is Verdict.IGNORED
    assert uow.store.payments[payment.id].status is PaymentStatus.SUCCEEDED
    assert uow.store.attempts[started.attempt.id].status is AttemptStatus.SUCCEEDED
    assert len(uow.store.events) == events_before
    assert len(uow.store.ledger.entries) == 1


async def test_failure_fails_the_payment_and_another_provider_may_be_tried() -> None:
    uow, payment = await new_payment()
    first = await start(uow, payment)
    failed = await apply(uow, outcome(first, Result.FAILED))
    assert failed.payment is not None
    assert failed.payment.status is PaymentStatus.FAILED
    second = await start(uow, payment, Provider.MOMO)
    assert second.payment.status is PaymentStatus.PENDING
    paid = await apply(uow, outcome(second))
    assert paid.payment is not None
    assert paid.payment.status is PaymentStatus.SUCCEEDED


async def test_failure_of_one_attempt_leaves_the_payment_pending_while_another_is_open() -> None:
    uow, payment = await new_payment()
    first = await start(uow, payment)
    await start(uow, payment, Provider.MOMO)
    await apply(uow, outcome(first, Result.FAILED))
    assert uow.store.payments[payment.id].status is PaymentStatus.PENDING


async def test_late_success_after_expiry_is_recorded_and_flagged() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    await service.expire_due_payments(uow, now=payment.expires_at)
    assert uow.store.payments[payment.id].status is PaymentStatus.EXPIRED
    late = await apply(uow, outcome(started), at=payment.expires_at + timedelta(minutes=3))
    assert late.verdict is Verdict.APPLIED
    stored = uow.store.payments[payment.id]
    assert stored.status is PaymentStatus.SUCCEEDED
    assert stored.flags.late
    assert stored.flags.needs_review
    assert len(uow.store.ledger.entries) == 1
    last = uow.store.events[-1]
    assert (last.from_status, last.to_status, last.detail["late"]) == ("expired", "succeeded", True)


async def test_mismatched_amount_currency_or_merchant_is_refused_and_kept() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    for changes in ({"amount": 1}, {"currency": "USD"}, {"merchant": "OTHER"}):
        refused = await apply(uow, outcome(started, **changes))
        assert refused.verdict is Verdict.REFUSED
    assert uow.store.payments[payment.id].status is PaymentStatus.PENDING
    assert uow.store.ledger.entries == []
    assert [c.verdict for c in uow.store.callbacks] == [Verdict.REFUSED] * 3


async def test_unknown_reference_is_stored_as_not_found() -> None:
    uow, _ = await new_payment()
    stray = ProviderOutcome(Provider.VNPAY, "att_nope", MERCHANT, 1, "VND", Result.SUCCEEDED, "00")
    applied = await apply(uow, stray)
    assert applied.verdict is Verdict.NOT_FOUND
    assert uow.store.callbacks[-1].verdict is Verdict.NOT_FOUND


async def test_second_attempt_paying_after_a_success_is_flagged_for_refund() -> None:
    uow, payment = await new_payment()
    first = await start(uow, payment)
    second = await start(uow, payment, Provider.MOMO)
    await apply(uow, outcome(first))
    extra = await apply(uow, outcome(second))
    assert extra.verdict is Verdict.APPLIED
    assert uow.store.attempts[second.attempt.id].status is AttemptStatus.DUPLICATE_CAPTURE
    flags = uow.store.payments[payment.id].flags
    assert flags.needs_review
    assert flags.overpaid_amount == 150_000
    keys = [e.source_key for e in uow.store.ledger.entries]
    assert keys == [
        f"payment:{payment.id}:captured",
        f"payment:{payment.id}:excess:{second.attempt.id}",
    ]


async def test_record_callback_links_an_unverified_message_without_applying_it() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    stored = await checkout.record_callback(
        uow,
        ProviderCallback(
            provider=Provider.VNPAY,
            channel=Channel.IPN,
            payload={"vnp_TxnRef": started.attempt.provider_ref, "vnp_SecureHash": "bad"},
            received_at=NOW,
            verification="bad_signature",
            provider_ref=started.attempt.provider_ref,
            verdict=Verdict.UNVERIFIED,
        ),
    )
    assert stored.payment_id == payment.id
    assert stored.attempt_id == started.attempt.id
    assert uow.store.payments[payment.id].status is PaymentStatus.PENDING


async def test_choosing_a_provider_again_reuses_its_open_attempt_and_its_page() -> None:
    uow, payment = await new_payment()
    first = await start(uow, payment)
    await checkout.record_start(uow, first.attempt.id, "https://v.test/pay?1", now=NOW)
    events = list(uow.store.events)
    again = await start(uow, payment)
    assert again.reused
    assert again.attempt.id == first.attempt.id
    assert again.attempt.redirect_url == "https://v.test/pay?1"
    assert list(uow.store.attempts) == [first.attempt.id]
    assert uow.store.events == events  # nothing happened: the payer is sent back


async def test_an_attempt_still_starting_is_not_doubled() -> None:
    uow, payment = await new_payment()
    await start(uow, payment, Provider.MOMO)  # its create call has not come back yet
    with pytest.raises(AttemptRefused) as refused:
        await start(uow, payment, Provider.MOMO)
    assert refused.value.reason == StartRefusal.IN_PROGRESS
    assert len(uow.store.attempts) == 1


async def test_attempts_beyond_the_cap_are_refused() -> None:
    uow, payment = await new_payment()
    for provider in (Provider.VNPAY, Provider.MOMO):
        started = await checkout.start_attempt(
            uow,
            token=payment.checkout_token,
            provider=provider,
            merchant=MERCHANT,
            currencies=TAKES_VND,
            now=NOW,
            max_attempts=2,
        )
        await apply(uow, outcome(started, Result.FAILED))
    with pytest.raises(AttemptRefused) as refused:
        await checkout.start_attempt(
            uow,
            token=payment.checkout_token,
            provider=Provider.VIETQR,
            merchant=MERCHANT,
            currencies=TAKES_VND,
            now=NOW,
            max_attempts=2,
        )
    assert refused.value.reason == StartRefusal.TOO_MANY
    assert len(uow.store.attempts) == 2


async def test_a_start_the_provider_left_unanswered_is_unknown() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment, Provider.MOMO)
    unknown = await checkout.record_start(uow, started.attempt.id, None, now=NOW)
    assert unknown.status is AttemptStatus.UNKNOWN
    assert uow.store.attempts[started.attempt.id].status is AttemptStatus.UNKNOWN
    # Still asked about on the ladder, and still open: the payment stays pending.
    assert unknown.next_query_at == NOW + timedelta(minutes=1)
    assert uow.store.payments[payment.id].status is PaymentStatus.PENDING
    # The provider's own answer (its IPN: the payer did pay) replaces unknown.
    paid = await apply(uow, outcome(started))
    assert paid.attempt is not None
    assert paid.attempt.status is AttemptStatus.SUCCEEDED


async def test_an_answer_that_came_first_is_not_overwritten_by_the_unanswered_start() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment, Provider.MOMO)
    await apply(uow, outcome(started, Result.FAILED))  # the IPN beat the create's timeout
    kept = await checkout.record_start(uow, started.attempt.id, None, now=NOW)
    assert kept.status is AttemptStatus.FAILED
