"""The pure refund rules: transitions, totals, the four-eyes rule, which attempt refunds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.attempts import Attempt, AttemptStatus, Provider
from payments.domain.errors import Conflict, InvalidTransition, NotPermitted
from payments.domain.payments import Payment, PaymentFlags, PaymentStatus
from payments.refunds.rules.lifecycle import (
    IN_FLIGHT,
    SCHEDULED,
    TERMINAL,
    TRANSITIONS,
    Refund,
    RefundStatus,
    captured_amount,
    check_four_eyes,
    check_refund_transition,
    choose_source,
    excess_left,
    ladder_done,
    needs_approval,
    next_check_at,
    scheduled_or_waiting,
    totals,
)
from tests.support.factories import draft

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
R = RefundStatus


def payment(
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    *,
    received_amount: int = 0,
    overpaid_amount: int = 0,
) -> Payment:
    return Payment(
        id="pay_1",
        agency_id=1,
        draft=draft(),
        status=status,
        checkout_token="t",
        expires_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        flags=PaymentFlags(received_amount=received_amount, overpaid_amount=overpaid_amount),
    )


def attempt(attempt_id: str, status: AttemptStatus, amount: int = 150_000) -> Attempt:
    return Attempt(
        id=attempt_id,
        payment_id="pay_1",
        provider=Provider.VNPAY,
        provider_ref=attempt_id,
        merchant="M",
        amount=amount,
        currency="VND",
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def refund(amount: int, status: RefundStatus, attempt_id: str = "att_1", **kw: object) -> Refund:
    base = Refund(
        id=f"rfd_{amount}_{status}",
        payment_id="pay_1",
        agency_id=1,
        attempt_id=attempt_id,
        provider="vnpay",
        amount=amount,
        currency="VND",
        captured_amount=150_000,
        full=False,
        from_excess=0,
        reason="r",
        status=status,
        requested_by="apikey:1",
        request_id="x",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_terminal_statuses_have_no_way_out_and_everything_else_is_in_flight() -> None:
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()
    assert set(R) == IN_FLIGHT | TERMINAL
    with pytest.raises(InvalidTransition):
        check_refund_transition("rfd_1", R.SUCCEEDED, R.FAILED)
    with pytest.raises(InvalidTransition):
        check_refund_transition("rfd_1", R.AWAITING_APPROVAL, R.PROCESSING)
    check_refund_transition("rfd_1", R.UNKNOWN, R.PROCESSING)  # not found: send again


def test_available_counts_waiting_and_open_refunds_as_held() -> None:
    refunds = [
        refund(10_000, R.SUCCEEDED),
        refund(20_000, R.AWAITING_APPROVAL),
        refund(30_000, R.UNKNOWN),
        refund(40_000, R.FAILED),
        refund(50_000, R.REJECTED),
    ]
    sums = totals(payment(received_amount=150_000), refunds)
    assert (sums.captured, sums.refunded, sums.in_flight, sums.available) == (
        150_000,
        10_000,
        50_000,
        90_000,
    )
    assert captured_amount(payment(PaymentStatus.PENDING, received_amount=50_000)) == 0
    assert captured_amount(payment(received_amount=180_000, overpaid_amount=30_000)) == 180_000


def test_excess_is_refunded_first_and_only_once() -> None:
    paid = payment(received_amount=180_000, overpaid_amount=30_000)
    assert excess_left(paid, []) == 30_000
    held = [refund(20_000, R.APPROVED, from_excess=20_000), refund(5, R.FAILED, from_excess=5)]
    assert excess_left(paid, held) == 10_000


def test_money_taken_twice_goes_back_through_the_attempt_that_took_it() -> None:
    paid = payment(received_amount=300_000, overpaid_amount=150_000)
    attempts = [
        attempt("att_1", AttemptStatus.SUCCEEDED),
        attempt("att_2", AttemptStatus.DUPLICATE_CAPTURE),
    ]
    source = choose_source(paid, attempts, [], 150_000)
    assert (source.attempt.id, source.captured, source.full) == ("att_2", 150_000, True)
    after = [refund(150_000, R.SUCCEEDED, attempt_id="att_2")]
    source = choose_source(paid, attempts, after, 100_000)
    assert (source.attempt.id, source.full) == ("att_1", False)
    with pytest.raises(Conflict):
        choose_source(paid, attempts, [refund(100_000, R.APPROVED, attempt_id="att_2")], 160_000)


def test_four_eyes_threshold_and_ladder() -> None:
    assert not needs_approval(10_000_000, 10_000_000)
    assert needs_approval(10_000_001, 10_000_000)
    assert needs_approval(1, 0)
    with pytest.raises(NotPermitted):
        check_four_eyes(refund(1, R.AWAITING_APPROVAL), "apikey:1")
    check_four_eyes(refund(1, R.AWAITING_APPROVAL), "apikey:2")
    steps = [next_check_at(NOW, n) - NOW for n in range(8)]
    assert steps == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(days=1),
        timedelta(days=1),
    ]
    # People are told once the six steps are asked, and not before.
    assert [ladder_done(n) for n in range(8)] == [False] * 6 + [True] * 2


def test_a_refund_is_settled_scheduled_or_waiting_for_a_person() -> None:
    for status in SCHEDULED:
        assert not scheduled_or_waiting(refund(1, status))
        assert scheduled_or_waiting(refund(1, status, next_action_at=NOW))
    assert scheduled_or_waiting(refund(1, R.AWAITING_APPROVAL))
    assert scheduled_or_waiting(refund(1, R.SUBMITTED))
    assert not scheduled_or_waiting(refund(1, R.SUCCEEDED, next_action_at=NOW))
