"""Requery on fakes: answers applied like callbacks, unknown answers only climb the ladder."""

from __future__ import annotations

from datetime import timedelta

from payments.domain.attempts import Attempt, AttemptStatus, Provider, ProviderOutcome, Result
from payments.domain.payments import PaymentStatus
from payments.services.requery import requery_due_attempts
from tests.unit.test_checkout_services import MERCHANT, NOW, new_payment, outcome, start


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


async def test_unknown_answers_change_nothing_but_the_schedule() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    answers = Answers(None)
    when = NOW + timedelta(minutes=1)
    for expected_step in (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)):
        report = await requery_due_attempts(uow, answers, now=when)
        assert report.unknown == 1
        attempt = uow.store.attempts[started.attempt.id]
        assert attempt.status is AttemptStatus.PENDING
        assert attempt.next_query_at == when + expected_step
        when = attempt.next_query_at
    assert uow.store.payments[payment.id].status is PaymentStatus.PENDING
    assert uow.store.ledger.entries == []


async def test_a_payment_due_to_expire_is_asked_first() -> None:
    uow, payment = await new_payment()
    started = await start(uow, payment)
    await requery_due_attempts(uow, Answers(None), now=NOW + timedelta(minutes=1))
    answers = Answers(Result.SUCCEEDED)
    # the next step is 5 minutes away, but the payment expires now
    await requery_due_attempts(uow, answers, now=payment.expires_at)
    assert answers.asked == [started.attempt.id]


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
