"""The pure rules of applying provider outcomes to attempts and payments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.attempts import (
    ATTEMPT_TRANSITIONS,
    REQUERY_LADDER,
    REUSE_WINDOW,
    Attempt,
    AttemptStatus,
    Provider,
    ProviderOutcome,
    Result,
    StartRefusal,
    Verdict,
    after_unanswered,
    choose_start,
    decide,
    new_transfer_reference,
    next_query_at,
    provider_reference,
    query_schedule,
)
from payments.domain.payments import TRANSITIONS, PaymentFlags, PaymentStatus
from payments.providers.vnpay.provider import PAY_WINDOW

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
S = PaymentStatus
A = AttemptStatus


def attempt(status: AttemptStatus = A.PENDING, result_code: str | None = None) -> Attempt:
    return Attempt(
        "att_1", "pay_1", Provider.VNPAY, "att_1", "TMN", 150_000, "VND", status, NOW, NOW,
        result_code=result_code,
    )  # fmt: skip


def told(result: Result) -> ProviderOutcome:
    return ProviderOutcome(Provider.VNPAY, "att_1", "TMN", 150_000, "VND", result, "00")


@pytest.mark.parametrize("payment", list(S))
@pytest.mark.parametrize("status", list(A))
@pytest.mark.parametrize("result", list(Result))
@pytest.mark.parametrize("other_succeeded", [False, True])
@pytest.mark.parametrize("other_open", [False, True])
@pytest.mark.parametrize("answered", [False, True])
def test_every_decision_follows_the_transition_table(
    payment: PaymentStatus,
    status: AttemptStatus,
    result: Result,
    other_succeeded: bool,
    other_open: bool,
    answered: bool,
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
        attempt=attempt(status, "00" if answered else None),
        outcome=told(result),
        other_attempt_succeeded=other_succeeded,
        other_attempt_open=other_open,
    )
    if d.payment_status is not payment:
        assert d.payment_status in TRANSITIONS[payment]
    if d.attempt_status is not status:
        assert d.attempt_status in ATTEMPT_TRANSITIONS[status]
    # A provider's answer never makes an attempt unknown.
    assert d.attempt_status is not A.UNKNOWN or status is A.UNKNOWN
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


EXPIRES = NOW + timedelta(minutes=20)


def test_the_ladder_is_finite_and_counted_from_the_start() -> None:
    assert (
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(hours=24),
    ) == REQUERY_LADDER
    # The payment's expiry is one moment of the schedule, asked about once.
    assert [m - NOW for m in query_schedule(NOW, EXPIRES)] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=20),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(hours=24),
    ]
    # An expiry on a step is one query, not two; one after the ladder is still asked.
    assert len(query_schedule(NOW, NOW + timedelta(minutes=30))) == len(REQUERY_LADDER)
    assert query_schedule(NOW, NOW + timedelta(days=3))[-1] == NOW + timedelta(days=3)


def test_next_query_walks_the_schedule_and_then_stops() -> None:
    moments, after = [], NOW
    while (upcoming := next_query_at(NOW, EXPIRES, after=after)) is not None:
        moments.append(upcoming)
        after = upcoming  # a worker on time queries at the moment itself
    assert moments == list(query_schedule(NOW, EXPIRES))
    # Past expiry nothing is due before the next step (the old sweep asked every round).
    assert next_query_at(NOW, EXPIRES, after=EXPIRES + timedelta(seconds=30)) == NOW + timedelta(
        minutes=30
    )
    # A worker that was down asks once and goes on from now: missed steps are not made up.
    assert next_query_at(NOW, EXPIRES, after=NOW + timedelta(hours=3)) == NOW + timedelta(hours=6)
    assert next_query_at(NOW, EXPIRES, after=NOW + timedelta(hours=24)) is None


def test_an_unanswered_question_makes_only_an_unanswered_attempt_unknown() -> None:
    assert after_unanswered(attempt(A.PENDING)) is A.UNKNOWN
    assert after_unanswered(attempt(A.UNKNOWN)) is A.UNKNOWN
    # The provider said "later" before: that stands (an unknown never overwrites a known).
    assert after_unanswered(attempt(A.PENDING, "00/01")) is A.PENDING
    for settled in (A.SUCCEEDED, A.FAILED, A.DUPLICATE_CAPTURE):
        assert after_unanswered(attempt(settled, "00")) is settled
    for status in A:
        moved = after_unanswered(attempt(status))
        assert moved is status or moved in ATTEMPT_TRANSITIONS[status]


def test_the_first_pending_answer_is_kept_and_only_an_answer_leaves_unknown() -> None:
    def pending_on(status: AttemptStatus, code: str | None) -> Verdict:
        return decide(
            payment_status=S.PENDING,
            flags=PaymentFlags(),
            attempt=attempt(status, code),
            outcome=told(Result.PENDING),
            other_attempt_succeeded=False,
            other_attempt_open=False,
        ).verdict

    assert pending_on(A.PENDING, None) is Verdict.APPLIED  # its code is stored
    assert pending_on(A.PENDING, "00/01") is Verdict.DUPLICATE
    assert pending_on(A.UNKNOWN, None) is Verdict.APPLIED
    assert ATTEMPT_TRANSITIONS[A.UNKNOWN] == {A.PENDING, A.SUCCEEDED, A.FAILED, A.DUPLICATE_CAPTURE}
    assert A.UNKNOWN not in ATTEMPT_TRANSITIONS[A.FAILED]


def opened(provider: Provider, at: datetime, url: str | None = "https://p.test/pay") -> Attempt:
    return replace(attempt(), provider=provider, created_at=at, redirect_url=url)


def test_choosing_the_same_provider_again_reuses_its_open_attempt() -> None:
    vnpay = opened(Provider.VNPAY, NOW)
    assert choose_start([vnpay], Provider.VNPAY, now=NOW, max_attempts=5) is vnpay
    # Another provider is another attempt; so is the same one once its page has lapsed; both
    # once the payer confirmed it, since the first may still take the money.
    assert choose_start([vnpay], Provider.MOMO, now=NOW, max_attempts=5, confirmed=True) is None
    lapsed = NOW + REUSE_WINDOW
    assert choose_start([vnpay], Provider.VNPAY, now=lapsed, max_attempts=5, confirmed=True) is None
    # A bank transfer reference stays good while its attempt is open.
    qr = opened(Provider.VIETQR, NOW)
    assert choose_start([qr], Provider.VIETQR, now=NOW + timedelta(hours=5), max_attempts=5) is qr
    # A settled attempt is not reused.
    failed = replace(vnpay, status=A.FAILED)
    assert choose_start([failed], Provider.VNPAY, now=NOW, max_attempts=5) is None


def test_an_open_attempt_without_its_page_is_not_doubled() -> None:
    starting = opened(Provider.MOMO, NOW, url=None)
    assert choose_start([starting], Provider.MOMO, now=NOW, max_attempts=5) is (
        StartRefusal.IN_PROGRESS
    )
    unanswered = replace(starting, status=A.UNKNOWN)
    assert choose_start([unanswered], Provider.MOMO, now=NOW, max_attempts=5) is (
        StartRefusal.IN_PROGRESS
    )


def test_a_second_try_while_the_first_may_take_the_money_needs_the_payers_word() -> None:
    vnpay = opened(Provider.VNPAY, NOW)
    for provider in (Provider.MOMO, Provider.VIETQR):
        assert choose_start([vnpay], provider, now=NOW, max_attempts=5) is StartRefusal.UNCONFIRMED
    lapsed = NOW + REUSE_WINDOW
    assert choose_start([vnpay], Provider.VNPAY, now=lapsed, max_attempts=5) is (
        StartRefusal.UNCONFIRMED
    )
    # A bank transfer the payer was shown may arrive as well.
    qr = opened(Provider.VIETQR, NOW)
    assert choose_start([qr], Provider.VNPAY, now=NOW, max_attempts=5) is StartRefusal.UNCONFIRMED
    # Nothing to confirm once the provider said the first failed, or when the payer was never
    # sent anywhere (its start went unanswered).
    failed = replace(vnpay, status=A.FAILED)
    assert choose_start([failed], Provider.MOMO, now=NOW, max_attempts=5) is None
    unanswered = replace(opened(Provider.MOMO, NOW, url=None), status=A.UNKNOWN)
    assert choose_start([unanswered], Provider.VNPAY, now=NOW, max_attempts=5) is None
    # An attempt that cannot start is refused as such, not offered to confirm.
    assert choose_start([vnpay], Provider.MOMO, now=NOW, max_attempts=1) is StartRefusal.TOO_MANY


def test_after_part_of_a_transfer_only_a_transfer_may_bring_the_rest() -> None:
    qr = opened(Provider.VIETQR, NOW)
    for provider in (Provider.VNPAY, Provider.MOMO):
        refused = choose_start(
            [qr], provider, now=NOW, max_attempts=5, received=75_000, confirmed=True
        )
        assert refused is StartRefusal.TRANSFER_ONLY
    # The same transfer reference again, so that the parts add up.
    assert choose_start([qr], Provider.VIETQR, now=NOW, max_attempts=5, received=75_000) is qr


def test_attempts_are_capped_per_payment() -> None:
    tried = [replace(opened(Provider.VNPAY, NOW), status=A.FAILED) for _ in range(3)]
    assert choose_start(tried, Provider.MOMO, now=NOW, max_attempts=3) is StartRefusal.TOO_MANY
    assert choose_start(tried, Provider.MOMO, now=NOW, max_attempts=4) is None
    # Going back to an open attempt is not a new one: the cap does not stand in the way.
    back = [*tried[:2], opened(Provider.MOMO, NOW)]
    assert choose_start(back, Provider.MOMO, now=NOW, max_attempts=3) is back[-1]


def test_the_reuse_window_is_shorter_than_vnpays_pay_page() -> None:
    assert REUSE_WINDOW < PAY_WINDOW


def test_transfer_references_are_short_and_unambiguous() -> None:
    ref = new_transfer_reference()
    assert len(ref) == 12
    assert ref.startswith("PF")
    assert ref.isupper()
    assert ref.isalnum()
    assert not set(ref[2:]) & set("01OIL")
    assert provider_reference(Provider.VNPAY, "att_X") == "att_X"
