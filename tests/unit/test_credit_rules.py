"""The pure rules of bank transfer credits: under-, exact and over-payment, and late money."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payments.domain.attempts import (
    Attempt,
    AttemptStatus,
    Provider,
    Verdict,
    new_transfer_reference,
)
from payments.domain.credits import REFERENCE_PATTERN, BankCredit, decide_credit
from payments.domain.payments import PaymentFlags, PaymentStatus

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
ATTEMPT = Attempt(
    "att_1", "pay_1", Provider.VIETQR, "PFABCDEFGH23", "970415:1", 150_000, "VND",
    AttemptStatus.PENDING, NOW, NOW,
)  # fmt: skip


def credit(amount: int, currency: str = "VND") -> BankCredit:
    return BankCredit("FT1", amount, currency, "x", NOW)


def decide(
    amount: int,
    *,
    status: PaymentStatus = PaymentStatus.PENDING,
    received: int = 0,
    attempt: Attempt = ATTEMPT,
    currency: str = "VND",
) -> tuple[Verdict, PaymentStatus, PaymentFlags, bool, int]:
    d = decide_credit(
        payment_status=status,
        payment_amount=150_000,
        flags=PaymentFlags(received_amount=received),
        attempt=attempt,
        credit=credit(amount, currency),
        other_attempt_succeeded=False,
    )
    return (
        d.decision.verdict,
        d.decision.payment_status,
        d.decision.flags,
        d.decision.capture,
        d.excess,
    )


def test_underpayment_keeps_the_payment_pending() -> None:
    verdict, status, flags, capture, excess = decide(100_000)
    assert (verdict, status, capture, excess) == (Verdict.APPLIED, PaymentStatus.PENDING, False, 0)
    assert flags == PaymentFlags(received_amount=100_000)


def test_completing_credit_pays_and_the_excess_is_owed_back() -> None:
    _, status, flags, capture, excess = decide(100_000, received=100_000)
    assert (status, capture, excess) == (PaymentStatus.SUCCEEDED, True, 50_000)
    assert flags == PaymentFlags(needs_review=True, received_amount=200_000, overpaid_amount=50_000)


@pytest.mark.parametrize("status", [PaymentStatus.EXPIRED, PaymentStatus.CANCELLED])
def test_late_transfer_is_recorded_and_flagged(status: PaymentStatus) -> None:
    _, after, flags, capture, _ = decide(150_000, status=status)
    assert (after, capture) == (PaymentStatus.SUCCEEDED, True)
    assert flags.late
    assert flags.needs_review


def test_credit_after_success_is_all_excess() -> None:
    paid = Attempt(**{**ATTEMPT.__dict__, "status": AttemptStatus.SUCCEEDED})
    verdict, status, flags, capture, excess = decide(
        10_000, status=PaymentStatus.SUCCEEDED, received=150_000, attempt=paid
    )
    assert (verdict, status, capture, excess) == (
        Verdict.APPLIED,
        PaymentStatus.SUCCEEDED,
        False,
        10_000,
    )
    assert flags.overpaid_amount == 10_000


def test_other_currency_is_refused_and_flagged() -> None:
    verdict, status, flags, capture, _ = decide(150_000, currency="USD")
    assert (verdict, status, capture) == (Verdict.REFUSED, PaymentStatus.PENDING, False)
    assert flags.needs_review


def test_reference_pattern_matches_what_attempts_use() -> None:
    for _ in range(50):
        assert REFERENCE_PATTERN.fullmatch(new_transfer_reference())


@pytest.mark.parametrize(
    ("amount", "status"),
    [(150_000, AttemptStatus.DUPLICATE_CAPTURE), (40_000, AttemptStatus.PENDING)],
)
def test_a_full_transfer_after_another_provider_captured_is_that_attempts_capture(
    amount: int, status: AttemptStatus
) -> None:
    # Found by the lifecycle machine: the payer paid at VNPay, then transferred the amount too.
    # The transfer's attempt took that money, so its refund goes back through it (and
    # clearing:vietqr), not through VNPay, which never took it.
    d = decide_credit(
        payment_status=PaymentStatus.SUCCEEDED,
        payment_amount=150_000,
        flags=PaymentFlags(),
        attempt=ATTEMPT,
        credit=credit(amount),
        other_attempt_succeeded=True,
    )
    assert (d.decision.attempt_status, d.excess) == (status, amount)
    assert d.decision.flags.needs_review
