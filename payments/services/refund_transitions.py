"""Moving a refund: the one place a status changes, with its event and its notification."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from payments.domain.refunds import Refund, RefundEvent, RefundStatus, check_refund_transition
from payments.services.outbox import publish_refund_status
from payments.services.ports import UnitOfWork


async def move_refund(
    uow: UnitOfWork,
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
    uow: UnitOfWork,
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


async def publish(uow: UnitOfWork, refund: Refund, now: datetime) -> None:
    payment = await uow.payments.by_id(refund.payment_id)
    notify_url = payment.draft.notify_url if payment else None
    await publish_refund_status(uow, refund, now, notify_url=notify_url)
