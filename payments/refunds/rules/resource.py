"""A refund as the API shows it, as plain JSON values: what ``GET /v1/refunds/{id}`` answers
and what every ``refund.<status>`` event carries."""

from __future__ import annotations

from typing import Any

from payments.domain.resources import iso
from payments.refunds.rules.lifecycle import Refund, Resolution


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
