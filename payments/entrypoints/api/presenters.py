"""Domain objects to the JSON the API answers with (kept in step with schemas.*Out by tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payments.domain.events import PaymentEvent
from payments.domain.payments import Payment


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def payment_json(payment: Payment, base_url: str) -> dict[str, Any]:
    d = payment.draft
    return {
        "id": payment.id,
        "object": "payment",
        "status": payment.status.value,
        "reference": d.reference,
        "kind": d.kind.value,
        "amount": d.amount,
        "currency": d.currency,
        "description": d.description,
        "payer": {
            "name": d.payer.name,
            "id_number": d.payer.id_number,
            "tax_code": d.payer.tax_code,
            "email": d.payer.email,
            "phone": d.payer.phone,
        },
        "budget": {
            "treasury_account": d.budget.treasury_account,
            "treasury_code": d.budget.treasury_code,
            "collecting_agency": d.budget.collecting_agency,
            "chapter": d.budget.chapter,
            "sub_item": d.budget.sub_item,
            "area": d.budget.area,
        },
        "tax_code": d.tax_code,
        "declaration_number": d.declaration_number,
        "return_url": d.return_url,
        "notify_url": d.notify_url,
        "metadata": dict(d.metadata),
        "flags": {
            "late": payment.flags.late,
            "needs_review": payment.flags.needs_review,
            "received_amount": payment.flags.received_amount,
            "overpaid_amount": payment.flags.overpaid_amount,
        },
        "checkout_url": f"{base_url}/checkout/{payment.checkout_token}",
        "expires_at": iso(payment.expires_at),
        "created_at": iso(payment.created_at),
        "updated_at": iso(payment.updated_at),
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
