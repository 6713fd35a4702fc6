"""Requery on fakes: answers applied like callbacks, a finite ladder from the attempt's start,
unanswered questions make an attempt the provider never talked about ``unknown``."""

from __future__ import annotations

from datetime import timedelta

from payments.collection.usecases import payments as service
from payments.collection.usecases.requery import requery_due_attempts
from payments.domain.access import Caller, Role
from payments.domain.attempts import (
    REQUERY_LADDER,
    Attempt,
    AttemptStatus,
    Provider,
    ProviderOutcome,
    Result,
)
from payments.domain.payments import Payment, PaymentStatus
from payments.services.ports import PaymentFilter
from tests.support.checkout_on_fakes import MERCHANT, NOW, apply, new_payment, outcome, start
from tests.unit.fakes import FakeUnitOfWorkFactory


class Answers:
    def __init__(self, result: Result | None) -> None:
        self.result = result
        self.asked: list[str] = []

    async def __call__(self, attempt: Attempt, now: object) -> ProviderOutcome | None:
        self.asked.append(attempt.id)
        if self.result is None:
            return None  # timeout, 5xx: unknown
        return ProviderOutcome(
            attempt.provider, attempt.provider_ref, MERCHANT, attempt.amount, "VND",
            self.result, "00",
        )  # fmt: skip


async def test_nothing_is_asked_before_the_first_step() -> None:
    uow, payment = await new_payment()
    await start(uow, payment)
    answers = Answers(Result.SUCCEEDED)
    report = await requery_due_attempts(uow, answers, now=NOW + timedelta(seconds=30))
    assert report.asked == 0


async def test_a_paid_answer_is_applied_and_ends_the_ladder() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    report = await requery_due_attempts(
        uow, Answers(Result.SUCCEEDED), now=NOW + timedelta(minutes=1)
    )
    assert (report.asked, report.answered) == (1, 1)
    attempt = uow.store.attempts[started.attempt.id]
    assert attempt.status is AttemptStatus.SUCCEEDED
    assert attempt.next_query_at is None
    assert uow.store.payments[payment.id].status is PaymentStatus.SUCCEEDED
    assert uow.store.callbacks[-1].channel.value == "query"
    assert len(uow.store.ledger.entries) == 1


async def test_unanswered_questions_make_the_attempt_unknown_and_follow_the_ladder() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    answers = Answers(None)
    when = NOW + timedelta(minutes=1)
    for upcoming in (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=1)):
        report = await requery_due_attempts(uow, answers, now=when)
        assert report.unknown == 1
        attempt = uow.store.attempts[started.attempt.id]
        # The provider never said anything about it: we do not know, and say so.
        assert attempt.status is AttemptStatus.UNKNOWN
        assert attempt.next_query_at == NOW + upcoming
        when = attempt.next_query_at
    assert uow.store.payments[payment.id].status is PaymentStatus.PENDING
    assert uow.store.ledger.entries == []
    # Only the provider's own answer replaces unknown.
    await requery_due_attempts(uow, Answers(Result.PENDING), now=when)
    assert uow.store.attempts[started.attempt.id].status is AttemptStatus.PENDING


async def test_an_unanswered_question_never_overwrites_what_the_provider_said() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    await requery_due_attempts(uow, Answers(Result.PENDING), now=NOW + timedelta(minutes=1))
    said = uow.store.attempts[started.attempt.id]
    assert (said.status, said.result_code) == (AttemptStatus.PENDING, "00")
    await requery_due_attempts(uow, Answers(None), now=NOW + timedelta(minutes=5))
    assert uow.store.attempts[started.attempt.id].status is AttemptStatus.PENDING


async def test_a_payment_due_to_expire_is_asked_first() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    # Steps at 1, 5 and 30 minutes; the payment expires after an hour, before the 2 h step.
    for minutes in (1, 5, 30):
        await requery_due_attempts(uow, Answers(None), now=NOW + timedelta(minutes=minutes))
    assert uow.store.attempts[started.attempt.id].next_query_at == payment.expires_at
    answers = Answers(Result.SUCCEEDED)
    await requery_due_attempts(uow, answers, now=payment.expires_at)
    assert answers.asked == [started.attempt.id]


async def ask_every_minute(uow: FakeUnitOfWorkFactory, answers: Answers, hours: int) -> None:
    """The worker's rounds with a clock on time (a round a minute; then every ten)."""
    moment = NOW
    while moment < NOW + timedelta(hours=hours):
        moment += timedelta(minutes=1 if moment < NOW + timedelta(hours=3) else 10)
        await requery_due_attempts(uow, answers, now=moment)


async def test_an_abandoned_attempt_is_asked_the_ladder_once_then_left_for_review() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    pending = Answers(Result.PENDING)  # the payer never paid: "later", every time
    await ask_every_minute(uow, pending, hours=26)
    # Every step of the ladder, and the payment's expiry once; not every round after expiry.
    assert len(pending.asked) == len(REQUERY_LADDER) + 1
    attempt = uow.store.attempts[started.attempt.id]
    assert attempt.query_count == len(REQUERY_LADDER) + 1
    assert (attempt.status, attempt.next_query_at) == (AttemptStatus.PENDING, None)
    assert attempt.left_for_review_at == NOW + REQUERY_LADDER[-1]
    listed = await service.list_payments(
        uow, reader(payment), PaymentFilter(left_for_review=True), before_id=None,
        limit=10,
    )  # fmt: skip
    assert [p.id for p in listed[0]] == [payment.id]


async def test_a_final_answer_settles_an_attempt_left_for_review() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    await ask_every_minute(uow, Answers(None), hours=26)
    attempt = uow.store.attempts[started.attempt.id]
    assert (attempt.status, attempt.left_for_review_at) == (
        AttemptStatus.UNKNOWN,
        NOW + REQUERY_LADDER[-1],
    )
    await apply(uow, outcome(started), at=NOW + timedelta(days=2))  # a late IPN
    settled = uow.store.attempts[started.attempt.id]
    assert (settled.status, settled.left_for_review_at) == (AttemptStatus.SUCCEEDED, None)


async def test_bank_transfers_are_never_queried() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment, Provider.VIETQR)
    assert started.attempt.next_query_at is None
    answers = Answers(Result.SUCCEEDED)
    await requery_due_attempts(uow, answers, now=payment.expires_at)
    assert answers.asked == []


async def test_failed_answer_fails_the_payment() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    await requery_due_attempts(uow, Answers(Result.FAILED), now=NOW + timedelta(minutes=1))
    assert uow.store.payments[payment.id].status is PaymentStatus.FAILED
    assert outcome(started).provider_ref == started.attempt.provider_ref


def reader(payment: Payment) -> Caller:
    return Caller(1, payment.agency_id, "DVC", Role.PORTAL, frozenset())
