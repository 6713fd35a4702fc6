"""Domain objects to the JSON the API answers with (kept in step with schemas.*Out by tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from payments.domain.attempts import Attempt
from payments.domain.events import PaymentEvent
from payments.domain.payments import Payment
from payments.domain.resources import iso, payment_resource


def payment_json(payment: Payment, base_url: str) -> dict[str, Any]:
    body = payment_resource(payment)
    body["checkout_url"] = f"{base_url}/checkout/{payment.checkout_token}"
    return body


def payment_detail_json(
    payment: Payment, attempts: Sequence[Attempt], base_url: str
) -> dict[str, Any]:
    """``GET /v1/payments/{id}``: the payment and what became of each provider try."""
    return {**payment_json(payment, base_url), "attempts": [attempt_json(a) for a in attempts]}


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "provider": attempt.provider.value,
        "provider_ref": attempt.provider_ref,
        "status": attempt.status.value,
        "amount": attempt.amount,
        "currency": attempt.currency,
        "result_code": attempt.result_code,
        "provider_txn_id": attempt.provider_txn_id,
        "query_count": attempt.query_count,
        "next_query_at": iso(attempt.next_query_at) if attempt.next_query_at else None,
        "left_for_review_at": (
            iso(attempt.left_for_review_at) if attempt.left_for_review_at else None
        ),
        "created_at": iso(attempt.created_at),
        "updated_at": iso(attempt.updated_at),
    }


def event_json(event: PaymentEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "payment_id": event.payment_id,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "cause": event.cause,
        "actor": event.actor,
        "occurred_at": iso(event.occurred_at),
        "detail": dict(event.detail),
    }
