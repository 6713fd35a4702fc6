"""What a payer's checkout link shows: the state of their payment as they need to see it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.attempts import Attempt, AttemptStatus, Provider
from payments.domain.payer_view import PayerState, amount_due, payer_view
from payments.domain.payments import Payment, PaymentFlags, PaymentStatus
from tests.support.factories import draft

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
S = PaymentStatus
A = AttemptStatus


def payment(status: PaymentStatus = S.PENDING, received: int = 0) -> Payment:
    return Payment(
        id="pay_1",
        agency_id=1,
        draft=draft(),
        status=status,
        checkout_token="tok",
        expires_at=NOW + timedelta(hours=1),
        created_at=NOW,
        updated_at=NOW,
        flags=PaymentFlags(received_amount=received),
    )


def tried(
    provider: Provider,
    status: AttemptStatus = A.PENDING,
    *,
    page: str | None = "https://provider.test/pay",
    minute: int = 0,
) -> Attempt:
    at = NOW + timedelta(minutes=minute)
    return Attempt(
        f"att_{minute}", "pay_1", provider, f"ref_{minute}", "M", 150_000, "VND", status, at, at,
        redirect_url=page,
    )  # fmt: skip


def test_nothing_tried_yet_is_payable() -> None:
    view = payer_view(payment(S.CREATED), [], NOW)
    assert view.state is PayerState.PAYABLE
    assert view.payable
    assert (view.amount_due, view.received, view.last_failed) == (150_000, 0, None)


def test_a_try_the_payer_was_sent_to_is_in_progress_until_the_provider_says_otherwise() -> None:
    vnpay_try = tried(Provider.VNPAY)
    view = payer_view(payment(), [vnpay_try], NOW)
    assert view.state is PayerState.IN_PROGRESS
    assert view.in_flight == (vnpay_try,)
    unknown = replace(vnpay_try, status=A.UNKNOWN)  # asked, no answer: may still take it
    assert payer_view(payment(), [unknown], NOW).state is PayerState.IN_PROGRESS
    # Never sent anywhere (the start went unanswered): the payer cannot have paid there.
    unsent = tried(Provider.MOMO, A.UNKNOWN, page=None)
    assert payer_view(payment(), [unsent], NOW).state is PayerState.PAYABLE


def test_a_failed_try_is_shown_with_the_way_to_pay_again() -> None:
    failed = tried(Provider.MOMO, A.FAILED)
    view = payer_view(payment(S.FAILED), [failed], NOW)
    assert (view.state, view.last_failed) == (PayerState.PAYABLE, failed)
    # Only the newest try counts: a failure before a newer try in flight is history.
    newer = tried(Provider.VNPAY, minute=1)
    view = payer_view(payment(), [failed, newer], NOW)
    assert (view.state, view.last_failed, view.in_flight) == (
        PayerState.IN_PROGRESS,
        None,
        (newer,),
    )
    # A failure after an older try still in flight is both.
    older = tried(Provider.VIETQR)
    last = tried(Provider.MOMO, A.FAILED, minute=2)
    view = payer_view(payment(), [older, last], NOW)
    assert (view.state, view.last_failed, view.transfer) == (PayerState.IN_PROGRESS, last, older)


def test_part_of_a_transfer_leaves_the_rest_due() -> None:
    transfer = tried(Provider.VIETQR)
    view = payer_view(payment(received=50_000), [transfer], NOW)
    assert view.state is PayerState.PARTLY_RECEIVED
    assert (view.amount_due, view.received, view.transfer) == (100_000, 50_000, transfer)
    assert amount_due(payment(received=200_000)) == 0  # overpaid: never below zero


@pytest.mark.parametrize("status", [S.CREATED, S.PENDING, S.FAILED])
def test_an_overdue_payment_is_expired_before_the_sweep_records_it(status: PaymentStatus) -> None:
    view = payer_view(payment(status), [tried(Provider.VNPAY)], NOW + timedelta(hours=1))
    assert view.state is PayerState.EXPIRED
    assert not view.payable


def test_end_states() -> None:
    paid_by = tried(Provider.VNPAY, A.SUCCEEDED)
    view = payer_view(payment(S.SUCCEEDED, received=150_000), [paid_by], NOW)
    assert (view.state, view.paid_by, view.amount_due) == (PayerState.PAID, paid_by, 0)
    # Paid wins over the clock: money taken after the deadline is still paid.
    late = payer_view(payment(S.SUCCEEDED), [paid_by], NOW + timedelta(days=3))
    assert late.state is PayerState.PAID
    assert payer_view(payment(S.CANCELLED), [], NOW).state is PayerState.CANCELLED
    expired = payer_view(payment(S.EXPIRED, received=50_000), [], NOW)
    assert (expired.state, expired.received) == (PayerState.EXPIRED, 50_000)
