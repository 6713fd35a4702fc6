"""The outbox: every status change a portal hears about is written with the change itself.

Callers pass their open unit of work, so the event commits or rolls back with the change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from payments.domain.notifications import DeliveryState, Notification, new_event_id
from payments.domain.payments import Payment
from payments.domain.resources import payment_resource
from payments.services.ports import UnitOfWork


async def publish_payment_status(uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    """``payment.<status>`` with the payment as it stands after the change."""
    await publish(
        uow,
        Notification(
            id=new_event_id(now),
            agency_id=payment.agency_id,
            type=f"payment.{payment.status.value}",
            resource_type="payment",
            resource_id=payment.id,
            payment_id=payment.id,
            data=payment_resource(payment),
            occurred_at=now,
            target_url=payment.draft.notify_url,
        ),
    )


async def publish(uow: UnitOfWork, event: Notification) -> None:
    """``event``, due for delivery at once."""
    await uow.notifications.add(
        replace(event, state=DeliveryState.PENDING, next_attempt_at=event.occurred_at)
    )
