"""Test data for refunds, shared by the unit tests (fakes) and the database tests: a paid
payment, finance officers, and a provider whose refund answers the test scripts."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from payments.collection.usecases import checkout
from payments.collection.usecases import payments as payment_service
from payments.domain.access import Caller, Role
from payments.domain.attempts import Provider, ProviderOutcome, Result
from payments.domain.payments import Payment
from payments.providers.refunds import (
    RefundNotFound,
    RefundOutcome,
    RefundRequest,
    RefundStatus,
    RefundSucceeded,
)
from payments.refunds.ports import RefundGateway
from payments.refunds.usecases import requests as service
from payments.services.ports import StoredResponse
from payments.unit_of_work import WorkFactory
from tests.support.factories import LIMITS, draft, portal_caller

MERCHANT = "DEMOTMN1"
POLICY = service.RefundPolicy(approval_threshold=1_000_000, idempotency_ttl=timedelta(hours=24))
_keys = itertools.count(1)
_codes = itertools.count(1)


def officer(agency_id: int, key_id: int, code: str = "X") -> Caller:
    return Caller(api_key_id=key_id, agency_id=agency_id, agency_code=code, role=Role.FINANCE)


@dataclass(frozen=True)
class Paid:
    payment: Payment
    agency_id: int
    code: str

    def officer(self, key_id: int) -> Caller:
        return officer(self.agency_id, key_id, self.code)


async def paid_payment(
    uow: WorkFactory,
    now: datetime,
    *,
    amount: int = 150_000,
    provider: Provider = Provider.VNPAY,
    code: str | None = None,
) -> Paid:
    """A new agency and one payment of it, paid through ``provider``."""
    code = code or f"RF{next(_codes)}"
    portal = await portal_caller(uow, now, code=code)
    created = await payment_service.create_payment(
        uow,
        caller=portal,
        draft=draft(reference=f"HS-{code}", amount=amount),
        idempotency=payment_service.IdempotentRequest(f"k-{code}", "f"),
        limits=replace(LIMITS, max_amount=10**12),
        respond=lambda p: StoredResponse(201, p.id),
        now=now,
    )
    assert created.payment is not None
    started = await checkout.start_attempt(
        uow,
        token=created.payment.checkout_token,
        provider=provider,
        merchant=MERCHANT,
        currencies=frozenset({"VND"}),
        now=now,
    )
    applied = await checkout.apply_provider_outcome(
        uow,
        ProviderOutcome(
            provider=provider,
            provider_ref=started.attempt.provider_ref,
            merchant=MERCHANT,
            amount=amount,
            currency="VND",
            result=Result.SUCCEEDED,
            result_code="00",
            provider_txn_id="14000001",
        ),
        callback=None,
        now=now,
    )
    assert applied.payment is not None
    return Paid(applied.payment, portal.agency_id, code)


async def ask(
    uow: WorkFactory,
    who: Caller,
    payment_id: str,
    amount: int,
    now: datetime,
    *,
    key: str | None = None,
    expected_available: int | None = None,
    policy: service.RefundPolicy = POLICY,
) -> service.RefundAsked:
    body = f"{payment_id}:{amount}:{expected_available}"
    return await service.request_refund(
        uow,
        caller=who,
        payment_id=payment_id,
        amount=amount,
        reason="Thu trùng lệ phí",
        expected_available=expected_available,
        idempotency=payment_service.IdempotentRequest(key or f"rk-{next(_keys)}", body),
        policy=policy,
        respond=lambda refund: StoredResponse(201, f'{{"id": "{refund.id}"}}'),
        now=now,
    )


@dataclass
class ScriptedProvider:
    """Answers scripted outcomes (success by default) and keeps every request it got. Like
    the real ones, a request id it has refunded answers the same again."""

    refunds: list[RefundOutcome] = field(default_factory=list)
    statuses: list[RefundStatus] = field(default_factory=list)
    sent: list[RefundRequest] = field(default_factory=list)
    asked: list[RefundRequest] = field(default_factory=list)
    refunds_told_apart: bool = True

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        self.sent.append(request)
        if self.refunds:
            return self.refunds.pop(0)
        return RefundSucceeded(request.amount, f"RF-{request.request_id}", "00")

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundStatus:
        self.asked.append(request)
        if self.statuses:
            return self.statuses.pop(0)
        return RefundNotFound("never heard of it")


@dataclass
class Providers:
    by_name: Mapping[Provider, RefundGateway]

    def get(self, name: Provider) -> RefundGateway | None:
        return self.by_name.get(name)
