"""Hypothesis: any sequence of provider messages (duplicated, reordered, tampered, late, for
several payments at once) leaves each payment with at most one success and exactly one capture
entry per success; a tampered message changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.collection.usecases import checkout
from payments.collection.usecases import payments as service
from payments.domain.access import Caller, Role
from payments.domain.attempts import AttemptStatus, Provider, Result, Verdict
from payments.domain.payments import Payment, PaymentStatus
from payments.services.access import create_agency
from tests.support.checkout_on_fakes import MERCHANT, NOW, outcome
from tests.support.factories import LIMITS, draft, respond
from tests.unit.fakes import FakeUnitOfWorkFactory

PROVIDERS = (Provider.VNPAY, Provider.MOMO)


@dataclass(frozen=True)
class Message:
    payment: int
    attempt: int
    result: Result
    tamper: bool


@dataclass(frozen=True)
class Cancel:
    payment: int


@dataclass(frozen=True)
class ExpireAll:
    pass


Step = Message | Cancel | ExpireAll
steps = st.lists(
    st.one_of(
        st.builds(
            Message,
            payment=st.integers(0, 2),
            attempt=st.integers(0, 1),
            result=st.sampled_from(list(Result)),
            tamper=st.booleans(),
        ),
        st.builds(Cancel, payment=st.integers(0, 2)),
        st.just(ExpireAll()),
    ),
    max_size=25,
)


async def three_payments() -> tuple[FakeUnitOfWorkFactory, Caller, list[Payment]]:
    uow = FakeUnitOfWorkFactory()
    agency = await create_agency(
        uow, code="DVC", name="DVC", allowed_hosts=["portal.example.vn"], actor="t", now=NOW
    )
    caller = Caller(1, agency.id, "DVC", Role.PORTAL, allowed_hosts=agency.allowed_hosts)
    payments = []
    for index in range(3):
        created = await service.create_payment(
            uow,
            caller=caller,
            draft=draft(reference=f"HS-{index}"),
            idempotency=service.IdempotentRequest(f"k{index}", "f"),
            limits=LIMITS,
            respond=respond,
            now=NOW,
        )
        assert created.payment is not None
        payments.append(created.payment)
    return uow, caller, payments


async def run(sequence: list[Step]) -> None:
    uow, caller, payments = await three_payments()
    started = [
        [
            await checkout.start_attempt(
                uow,
                token=p.checkout_token,
                provider=provider,
                merchant=MERCHANT,
                currencies=frozenset({"VND"}),
                now=NOW,
            )
            for provider in PROVIDERS
        ]
        for p in payments
    ]
    for step in sequence:
        if isinstance(step, Cancel):
            target = uow.store.payments[payments[step.payment].id]
            if target.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
                await service.cancel_payment(uow, caller, target.id, reason=None, now=NOW)
            continue
        if isinstance(step, ExpireAll):
            await service.expire_due_payments(uow, now=payments[0].expires_at)
            continue
        message = outcome(started[step.payment][step.attempt], step.result)
        if step.tamper:
            message = replace(message, amount=message.amount + 1)
        before = (dict(uow.store.payments), dict(uow.store.attempts), len(uow.store.ledger.entries))
        applied = await checkout.apply_provider_outcome(uow, message, callback=None, now=NOW)
        if step.tamper:
            assert applied.verdict is Verdict.REFUSED
            assert (dict(uow.store.payments), dict(uow.store.attempts)) == before[:2]
            assert len(uow.store.ledger.entries) == before[2]
    for payment in payments:
        stored = uow.store.payments[payment.id]
        attempts = [a for a in uow.store.attempts.values() if a.payment_id == payment.id]
        successes = [a for a in attempts if a.status is AttemptStatus.SUCCEEDED]
        key = f"payment:{payment.id}:captured"
        captures = [e for e in uow.store.ledger.entries if e.source_key == key]
        assert len(successes) <= 1
        assert len(captures) == len(successes)
        assert (stored.status is PaymentStatus.SUCCEEDED) == bool(successes)
        extra = [a for a in attempts if a.status is AttemptStatus.DUPLICATE_CAPTURE]
        assert stored.flags.overpaid_amount == sum(a.amount for a in extra)
        if stored.flags.late:
            assert stored.flags.needs_review


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_callback_sequences_keep_the_invariants(sequence: list[Step]) -> None:
    asyncio.run(run(sequence))
