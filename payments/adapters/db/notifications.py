"""SQLAlchemy implementation of the outbox port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import notification_tables as nt
from payments.domain.notifications import DeliveryState, Notification


def notification_from_row(row: Any) -> Notification:
    return Notification(
        id=row.id,
        agency_id=row.agency_id,
        type=row.type,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        payment_id=row.payment_id,
        data=dict(row.data),
        occurred_at=row.occurred_at,
        target_url=row.target_url,
        state=DeliveryState(row.state),
        attempt_count=row.attempt_count,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
    )


class SqlNotifications:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, notification: Notification) -> None:
        n = notification
        await self._conn.execute(
            insert(nt.notifications),
            {
                "id": n.id,
                "agency_id": n.agency_id,
                "type": n.type,
                "resource_type": n.resource_type,
                "resource_id": n.resource_id,
                "payment_id": n.payment_id,
                "data": dict(n.data),
                "occurred_at": n.occurred_at,
                "target_url": n.target_url,
                "state": n.state.value,
                "attempt_count": n.attempt_count,
                "next_attempt_at": n.next_attempt_at,
                "delivered_at": n.delivered_at,
            },
        )

    async def for_payment(self, payment_id: str) -> Sequence[Notification]:
        n = nt.notifications
        rows = await self._conn.execute(
            select(n).where(n.c.payment_id == payment_id).order_by(n.c.id)
        )
        return [notification_from_row(row) for row in rows]
