"""Resources as the API shows them, as plain JSON values.

Used by the API's presenters and by notifications, so an event carries exactly the
representation a portal reads from the API. Pure: no base URL, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payments.domain.payments import Payment
from payments.domain.refunds import Refund, Resolution


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


def refund_resource(refund: Refund) -> dict[str, Any]:
    """Everything ``GET /v1/refunds/{id}`` answers."""
    return {
        "id": refund.id,
        "object": "refund",
        "payment_id": refund.payment_id,
        "status": refund.status.value,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "provider": refund.provider,
        "attempt_id": refund.attempt_id,
        "full": refund.full,
        "requested_by": refund.requested_by,
        "approved_by": refund.approved_by,
        "rejected_by": refund.rejected_by,
        "decision_note": refund.decision_note,
        "provider_request_id": refund.request_id,
        "provider_code": refund.provider_code,
        "provider_message": refund.provider_message,
        "provider_refund_id": refund.provider_refund_id,
        "transfer_instruction": (
            dict(refund.transfer_instruction) if refund.transfer_instruction is not None else None
        ),
        "next_action_at": iso(refund.next_action_at) if refund.next_action_at else None,
        "created_at": iso(refund.created_at),
        "updated_at": iso(refund.updated_at),
        "settled_at": iso(refund.settled_at) if refund.settled_at else None,
        "escalated_at": iso(refund.escalated_at) if refund.escalated_at else None,
        "resolution": _resolution(refund.resolution),
    }


def _resolution(resolution: Resolution | None) -> dict[str, Any] | None:
    if resolution is None:
        return None
    return {
        "outcome": resolution.outcome.value,
        "provider_refund_id": resolution.provider_refund_id,
        "note": resolution.note,
        "proposed_by": resolution.proposed_by,
        "proposed_at": iso(resolution.proposed_at),
    }
