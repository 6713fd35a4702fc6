"""SQLAlchemy implementation of the outbox port: events, their claims and delivery log, the
agencies' default notification URL and signing secrets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.domain.notifications import (
    DeliveryAttempt,
    DeliveryOutcome,
    DeliveryState,
    Notification,
)
from payments.notifications import tables as nt
from payments.services.ports import DeliveryTarget, EventFilter


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


def _attempt(row: Any) -> DeliveryAttempt:
    return DeliveryAttempt(
        notification_id=row.notification_id,
        attempt_no=row.attempt_no,
        started_at=row.started_at,
        url=row.url,
        outcome=DeliveryOutcome(row.outcome),
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        error=row.error,
        worker=row.worker,
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

    async def claim_due(
        self, *, now: datetime, worker: str, until: datetime, limit: int
    ) -> Sequence[Notification]:
        c = nt.notifications.c
        # SKIP LOCKED: concurrent claimers pass over each other's rows instead of queueing
        # (SQLite has one writer at a time and ignores the clause).
        stmt = (
            select(nt.notifications)
            .where(
                c.state == DeliveryState.PENDING.value,
                c.next_attempt_at <= now,
                or_(c.claimed_until.is_(None), c.claimed_until <= now),
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = [notification_from_row(row) for row in await self._conn.execute(stmt)]
        if rows:
            await self._conn.execute(
                update(nt.notifications)
                .where(c.id.in_([r.id for r in rows]))
                .values(claimed_by=worker, claimed_until=until)
            )
        return rows

    async def finish(self, notification: Notification, *, worker: str, claimed_count: int) -> bool:
        c = nt.notifications.c
        n = notification
        result = await self._conn.execute(
            update(nt.notifications)
            .where(
                c.id == n.id,
                c.claimed_by == worker,
                c.attempt_count == claimed_count,
                c.state == DeliveryState.PENDING.value,
            )
            .values(
                state=n.state.value,
                attempt_count=n.attempt_count,
                next_attempt_at=n.next_attempt_at,
                delivered_at=n.delivered_at,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return result.rowcount == 1

    async def release(self, notification_id: str, *, worker: str) -> None:
        c = nt.notifications.c
        await self._conn.execute(
            update(nt.notifications)
            .where(c.id == notification_id, c.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
        )

    async def log_attempt(self, attempt: DeliveryAttempt) -> None:
        a = attempt
        await self._conn.execute(
            insert(nt.notification_deliveries),
            {
                "notification_id": a.notification_id,
                "attempt_no": a.attempt_no,
                "started_at": a.started_at,
                "url": a.url,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "outcome": a.outcome.value,
                "error": a.error,
                "worker": a.worker,
            },
        )

    async def get(self, agency_id: int, event_id: str) -> Notification | None:
        c = nt.notifications.c
        row = (
            await self._conn.execute(
                select(nt.notifications).where(c.id == event_id, c.agency_id == agency_id)
            )
        ).first()
        return notification_from_row(row) if row else None

    async def page(
        self,
        agency_id: int,
        flt: EventFilter,
        *,
        after_id: str | None,
        before_id: str,
        limit: int,
    ) -> Sequence[Notification]:
        c = nt.notifications.c
        conditions = [c.agency_id == agency_id, c.id < before_id]
        if after_id is not None:
            conditions.append(c.id > after_id)
        if flt.types:
            conditions.append(c.type.in_(sorted(flt.types)))
        if flt.payment_id is not None:
            conditions.append(c.payment_id == flt.payment_id)
        if flt.created_from is not None:
            conditions.append(c.occurred_at >= flt.created_from)
        if flt.created_to is not None:
            conditions.append(c.occurred_at < flt.created_to)
        stmt = select(nt.notifications).where(and_(*conditions)).order_by(c.id).limit(limit)
        return [notification_from_row(row) for row in await self._conn.execute(stmt)]

    async def deliveries(self, event_id: str) -> Sequence[DeliveryAttempt]:
        d = nt.notification_deliveries.c
        rows = await self._conn.execute(
            select(nt.notification_deliveries).where(d.notification_id == event_id).order_by(d.id)
        )
        return [_attempt(row) for row in rows]

    async def reschedule(self, event_id: str, now: datetime) -> None:
        c = nt.notifications.c
        await self._conn.execute(
            update(nt.notifications)
            .where(c.id == event_id)
            .values(
                state=DeliveryState.PENDING.value,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )

    async def target(self, agency_id: int, now: datetime) -> DeliveryTarget:
        a = t.agencies.c
        agency = (
            await self._conn.execute(select(a.notify_url, a.allowed_hosts).where(a.id == agency_id))
        ).one()
        s = nt.webhook_secrets.c
        secrets = await self._conn.execute(
            select(s.secret)
            .where(s.agency_id == agency_id, or_(s.retires_at.is_(None), s.retires_at > now))
            .order_by(s.id.desc())
        )
        return DeliveryTarget(
            default_url=agency.notify_url,
            allowed_hosts=frozenset(agency.allowed_hosts),
            secrets=tuple(row.secret for row in secrets),
        )

    async def set_default_url(self, agency_id: int, url: str | None) -> None:
        await self._conn.execute(
            update(t.agencies).where(t.agencies.c.id == agency_id).values(notify_url=url)
        )

    async def add_secret(
        self, agency_id: int, secret: str, *, now: datetime, previous_until: datetime
    ) -> None:
        s = nt.webhook_secrets.c
        mine = s.agency_id == agency_id
        # Older secrets already on their way out stop now; the current one gets the overlap.
        await self._conn.execute(
            update(nt.webhook_secrets)
            .where(mine, s.retires_at.is_not(None), s.retires_at > now)
            .values(retires_at=now)
        )
        await self._conn.execute(
            update(nt.webhook_secrets)
            .where(mine, s.retires_at.is_(None))
            .values(retires_at=previous_until)
        )
        await self._conn.execute(
            insert(nt.webhook_secrets),
            {"agency_id": agency_id, "secret": secret, "created_at": now, "retires_at": None},
        )
