"""The pure rules of applying provider outcomes to attempts and payments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.attempts import (
    Attempt,
    AttemptStatus,
    Provider,
    ProviderOutcome,
    Result,
    Verdict,
    decide,
    new_transfer_reference,
    next_query_at,
    provider_reference,
)
from payments.domain.payments import TRANSITIONS, PaymentFlags, PaymentStatus

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
S = PaymentStatus
A = AttemptStatus


def attempt(status: AttemptStatus = A.PENDING) -> Attempt:
    return Attempt(
        "att_1", "pay_1", Provider.VNPAY, "att_1", "TMN", 150_000, "VND", status, NOW, NOW
    )


def told(result: Result) -> ProviderOutcome:
    return ProviderOutcome(Provider.VNPAY, "att_1", "TMN", 150_000, "VND", result, "00")


@pytest.mark.parametrize("payment", list(S))
@pytest.mark.parametrize("status", list(A))
@pytest.mark.parametrize("result", list(Result))
@pytest.mark.parametrize("other_succeeded", [False, True])
@pytest.mark.parametrize("other_open", [False, True])
def test_every_decision_follows_the_transition_table(
    payment: PaymentStatus,
    status: AttemptStatus,
    result: Result,
    other_succeeded: bool,
    other_open: bool,
) -> None:
    # States the services cannot produce: a created payment has no attempt (starting one
    # makes it pending), and a succeeded payment has a succeeded attempt.
    if payment is S.CREATED or (
        payment is S.SUCCEEDED and status is not A.SUCCEEDED and not other_succeeded
    ):
        return
    d = decide(
        payment_status=payment,
        flags=PaymentFlags(),
        attempt=attempt(status),
        outcome=told(result),
        other_attempt_succeeded=other_succeeded,
        other_attempt_open=other_open,
    )
    if d.payment_status is not payment:
        assert d.payment_status in TRANSITIONS[payment]
    if d.verdict is not Verdict.APPLIED:
        assert (d.attempt_status, d.payment_status, d.flags) == (status, payment, PaymentFlags())
    # Money taken is never turned into anything but a success.
    if status in (A.SUCCEEDED, A.DUPLICATE_CAPTURE):
        assert d.attempt_status is status
    assert not (d.capture and d.extra_capture)
    if d.capture:
        assert d.payment_status is S.SUCCEEDED
        assert not other_succeeded


@pytest.mark.parametrize("payment", [S.CANCELLED, S.EXPIRED])
def test_success_after_cancel_or_expiry_is_late(payment: PaymentStatus) -> None:
    d = decide(
        payment_status=payment,
        flags=PaymentFlags(),
        attempt=attempt(),
        outcome=told(Result.SUCCEEDED),
        other_attempt_succeeded=False,
        other_attempt_open=False,
    )
    assert d.payment_status is S.SUCCEEDED
    assert d.capture
    assert d.flags == PaymentFlags(late=True, needs_review=True, received_amount=150_000)


def test_requery_ladder_then_daily() -> None:
    steps = [next_query_at(NOW, n) - NOW for n in range(6)]
    assert steps == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(days=1),
        timedelta(days=1),
    ]


def test_transfer_references_are_short_and_unambiguous() -> None:
    ref = new_transfer_reference()
    assert len(ref) == 12
    assert ref.startswith("PF")
    assert ref.isupper()
    assert ref.isalnum()
    assert not set(ref[2:]) & set("01OIL")
    assert provider_reference(Provider.VNPAY, "att_X") == "att_X"
