"""What the tests ask of a provider module directly: a checkout, a refund."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from payments.domain.attempts import (
    Attempt,
    AttemptStatus,
    new_attempt_id,
    provider_reference,
)
from payments.domain.payments import Payment
from payments.providers.interface import CheckoutRequest, PaymentProvider
from payments.providers.refunds import RefundRequest
from tests.support.api import BASE_URL

_ids = itertools.count(1)


def fresh_attempt(payment: Payment, provider: PaymentProvider, now: datetime) -> Attempt:
    """A new attempt of ``payment`` at ``provider``, which has not heard of it."""
    attempt_id = new_attempt_id(now)
    return Attempt(
        id=attempt_id,
        payment_id=payment.id,
        provider=provider.name,
        provider_ref=provider_reference(provider.name, attempt_id),
        merchant=provider.merchant,
        amount=payment.draft.amount,
        currency=payment.draft.currency,
        status=AttemptStatus.PENDING,
        created_at=now,
        updated_at=now,
    )


def checkout_of(payment: Payment, attempt: Attempt, now: datetime) -> CheckoutRequest:
    base = f"{BASE_URL}/checkout/{payment.checkout_token}"
    return CheckoutRequest(
        payment=payment,
        attempt=attempt,
        checkout_url=base,
        return_url=f"{BASE_URL}/checkout/return/{attempt.provider}",
        ipn_url=f"{BASE_URL}/callbacks/{attempt.provider}/ipn",
        payer_ip="203.0.113.7",
        language="vi",
        now=now,
    )


def refund_of(
    attempt: Attempt, amount: int, requested_at: datetime, *, request_id: str | None = None
) -> RefundRequest:
    return RefundRequest(
        attempt=attempt,
        amount=amount,
        full=amount == attempt.amount,
        request_id=request_id or f"rf{next(_ids)}x{requested_at:%H%M%S%f}",
        reason="Thu trung le phi",
        actor="finance@agency",
        requested_at=requested_at,
    )


def seconds_apart(start: datetime, count: int) -> list[datetime]:
    """``count`` moments a second apart: VNPay tells refunds of a payment apart by their
    create second only, so refunds the test wants told apart are never in the same one."""
    return [start + timedelta(seconds=index) for index in range(count)]
