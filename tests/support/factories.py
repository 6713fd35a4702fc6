"""Test data for service-level tests, shared by the fakes (unit) and the real databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from payments.collection.usecases import payments as service
from payments.domain.access import Caller, Role
from payments.domain.budget import BudgetDestination
from payments.domain.payments import Payer, Payment, PaymentDraft, PaymentKind
from payments.services.access import create_agency
from payments.services.ports import StoredResponse
from payments.unit_of_work import WorkFactory

LIMITS = service.CreationLimits(
    max_amount=1_000_000,
    currencies=frozenset({"VND"}),  # what every provider takes today
    allow_plain_http=False,
    default_expiry=timedelta(hours=1),
    max_expiry=timedelta(days=30),
    idempotency_ttl=timedelta(hours=24),
)


def draft(**changes: object) -> PaymentDraft:
    base = PaymentDraft(
        reference="HS-1",
        kind=PaymentKind.FEE,
        amount=150_000,
        currency="VND",
        description="Le phi",
        payer=Payer(name="Nguyen Van A"),
        budget=BudgetDestination("7111", "0011", "1054321", "755", "2662"),
        return_url="https://portal.example.vn/back",
    )
    return PaymentDraft(**{**base.__dict__, **changes})


def respond(payment: Payment) -> StoredResponse:
    return StoredResponse(201, payment.id)


async def portal_caller(uow: WorkFactory, now: datetime, code: str = "DVC") -> Caller:
    """A new agency allowed to return to portal.example.vn, and its portal caller."""
    agency = await create_agency(
        uow, code=code, name=code, allowed_hosts=["portal.example.vn"], actor="t", now=now
    )
    return Caller(
        api_key_id=1,
        agency_id=agency.id,
        agency_code=code,
        role=Role.PORTAL,
        allowed_hosts=agency.allowed_hosts,
    )


async def created_payment(uow: WorkFactory, now: datetime) -> Payment:
    """A payment in status created, for an agency made for it."""
    created = await service.create_payment(
        uow,
        caller=await portal_caller(uow, now),
        draft=draft(),
        idempotency=service.IdempotentRequest("k", "f"),
        limits=LIMITS,
        respond=respond,
        now=now,
    )
    assert created.payment is not None
    return created.payment
