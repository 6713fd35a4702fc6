"""Checkout on the in-memory fakes: a payment created at ``NOW``, an attempt started at a
provider, and the provider's outcome applied as a verified IPN."""

from __future__ import annotations

from datetime import UTC, datetime

from payments.collection.usecases import checkout
from payments.domain.attempts import Provider, ProviderOutcome, Result
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.domain.payments import Payment
from tests.support.factories import created_payment
from tests.unit.fakes import FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
MERCHANT = "DEMOTMN1"
TAKES_VND = frozenset({"VND"})


async def new_payment(
    uow: FakeUnitOfWorkFactory | None = None,
) -> tuple[FakeUnitOfWorkFactory, Payment]:
    uow = uow or FakeUnitOfWorkFactory()
    return uow, await created_payment(uow, NOW)


async def start(
    uow: FakeUnitOfWorkFactory, payment: Payment, provider: Provider = Provider.VNPAY
) -> checkout.StartedAttempt:
    return await checkout.start_attempt(
        uow,
        token=payment.checkout_token,
        provider=provider,
        merchant=MERCHANT,
        currencies=TAKES_VND,
        now=NOW,
    )


def outcome(
    started: checkout.StartedAttempt, result: Result = Result.SUCCEEDED, **changes: object
) -> ProviderOutcome:
    base = ProviderOutcome(
        provider=started.attempt.provider,
        provider_ref=started.attempt.provider_ref,
        merchant=MERCHANT,
        amount=started.attempt.amount,
        currency="VND",
        result=result,
        result_code="00" if result is Result.SUCCEEDED else "24",
        provider_txn_id="14000001",
    )
    return ProviderOutcome(**{**base.__dict__, **changes})


def ipn(ref: str) -> ProviderCallback:
    return ProviderCallback(
        provider=Provider.VNPAY,
        channel=Channel.IPN,
        payload={"vnp_TxnRef": ref},
        received_at=NOW,
        verification=VERIFIED,
        provider_ref=ref,
    )


async def apply(
    uow: FakeUnitOfWorkFactory, what: ProviderOutcome, at: datetime = NOW
) -> checkout.Applied:
    return await checkout.apply_provider_outcome(uow, what, callback=ipn(what.provider_ref), now=at)
