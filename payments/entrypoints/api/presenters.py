"""Domain objects to the JSON the API answers with (kept in step with schemas.*Out by tests)."""

from __future__ import annotations

from typing import Any

from payments.domain.events import PaymentEvent
from payments.domain.payments import Payment
from payments.domain.resources import iso, payment_resource


def payment_json(payment: Payment, base_url: str) -> dict[str, Any]:
    body = payment_resource(payment)
    body["checkout_url"] = f"{base_url}/checkout/{payment.checkout_token}"
    return body


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
