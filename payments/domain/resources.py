"""Resources as the API shows them, as plain JSON values.

Used by the API's presenters and by notifications, so an event carries exactly the
representation a portal reads from the API. Pure: no base URL, no I/O. A refund's is
``refunds.rules.resource``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from payments.domain.access import ApiKey
from payments.domain.payments import Payment


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def payment_resource(payment: Payment) -> dict[str, Any]:
    """Everything ``GET /v1/payments/{id}`` answers except ``checkout_url``, which needs the
    public base URL (the API adds it; notifications report settled states, where the
    portal has no use for the checkout page)."""
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
        "expires_at": iso(payment.expires_at),
        "created_at": iso(payment.created_at),
        "updated_at": iso(payment.updated_at),
    }


def api_key_resource(key: ApiKey, agency_code: str) -> dict[str, Any]:
    """A key as the API and ``payments apikey list --json`` show it: never its hash."""
    return {
        "id": key.id,
        "object": "api_key",
        "agency": agency_code,
        "role": key.role.value,
        "prefix": key.prefix,
        "label": key.label,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "created_at": iso(key.created_at.astimezone(UTC)),
        "revoked_at": iso(key.revoked_at.astimezone(UTC)) if key.revoked_at else None,
    }
