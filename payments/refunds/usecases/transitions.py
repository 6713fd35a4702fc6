"""Moving a refund: the one place a status changes, with its event and its notification."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from payments.domain.notifications import Notification, new_event_id
from payments.refunds.ports import RefundWork
from payments.refunds.rules.lifecycle import (
    Refund,
    RefundEvent,
    RefundStatus,
    check_refund_transition,
)
from payments.refunds.rules.resource import refund_resource
from payments.services.outbox import publish as publish_event


async def move_refund(
    uow: RefundWork,
    refund: Refund,
    status: RefundStatus,
    *,
    cause: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
    **changes: Any,
) -> Refund:
    """Store ``changes`` and the new status. A new status also records the event (cause and
    actor) and writes ``refund.<status>`` to the outbox; the same status only reschedules."""
    if status is not refund.status:
        check_refund_transition(refund.id, refund.status, status)
    moved = replace(refund, status=status, updated_at=now, **changes)
    await uow.refunds.update(moved)
    if status is not refund.status:
        await uow.refunds.add_event(
            RefundEvent(
                refund_id=refund.id,
                payment_id=refund.payment_id,
                from_status=refund.status.value,
                to_status=status.value,
                cause=cause,
                actor=actor,
                occurred_at=now,
                detail=dict(detail or {}),
            )
        )
        await publish(uow, moved, now)
    return moved


async def record_step(
    uow: RefundWork,
    refund: Refund,
    *,
    cause: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any],
) -> None:
    """A step that changes no status (raised to people, a proposal to settle it by hand)
    still belongs to the refund's history."""
    await uow.refunds.add_event(
        RefundEvent(
            refund_id=refund.id,
            payment_id=refund.payment_id,
            from_status=refund.status.value,
            to_status=refund.status.value,
            cause=cause,
            actor=actor,
            occurred_at=now,
            detail=dict(detail),
        )
    )


async def publish(uow: RefundWork, refund: Refund, now: datetime) -> None:
    payment = await uow.payments.by_id(refund.payment_id)
    notify_url = payment.draft.notify_url if payment else None
    await publish_refund_status(uow, refund, now, notify_url=notify_url)


async def publish_refund_status(
    uow: RefundWork, refund: Refund, now: datetime, *, notify_url: str | None = None
) -> None:
    """``refund.<status>`` with the refund as it stands after the change; ``notify_url`` is
    the refunded payment's own (None: the agency's default)."""
    await publish_event(
        uow,
        Notification(
            id=new_event_id(now),
            agency_id=refund.agency_id,
            type=f"refund.{refund.status.value}",
            resource_type="refund",
            resource_id=refund.id,
            payment_id=refund.payment_id,
            data=refund_resource(refund),
            occurred_at=now,
            target_url=notify_url,
        ),
    )
