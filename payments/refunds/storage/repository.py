"""SQLAlchemy implementation of the refunds port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import status_history
from payments.adapters.db import tables as t
from payments.collection.storage.payments import payment_from_row
from payments.domain.payments import Payment
from payments.refunds.ports import RefundFilter
from payments.refunds.rules.lifecycle import (
    SCHEDULED,
    TERMINAL,
    Refund,
    RefundEvent,
    RefundStatus,
    Resolution,
    ResolutionOutcome,
)
from payments.refunds.storage import tables as rt


def refund_from_row(row: Any) -> Refund:
    return Refund(
        id=row.id,
        payment_id=row.payment_id,
        agency_id=row.agency_id,
        attempt_id=row.attempt_id,
        provider=row.provider,
        amount=row.amount,
        currency=row.currency,
        captured_amount=row.captured_amount,
        full=row.full_refund,
        from_excess=row.from_excess,
        reason=row.reason,
        status=RefundStatus(row.status),
        requested_by=row.requested_by,
        request_id=row.request_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        approved_by=row.approved_by,
        rejected_by=row.rejected_by,
        decision_note=row.decision_note,
        provider_requested_at=row.provider_requested_at,
        provider_code=row.provider_code,
        provider_message=row.provider_message,
        provider_refund_id=row.provider_refund_id,
        transfer_instruction=(
            dict(row.transfer_instruction) if row.transfer_instruction is not None else None
        ),
        checks=row.checks,
        next_action_at=row.next_action_at,
        settled_at=row.settled_at,
        escalated_at=row.escalated_at,
        resolution=_resolution(row),
    )


def _resolution(row: Any) -> Resolution | None:
    if row.resolution_outcome is None:
        return None
    return Resolution(
        outcome=ResolutionOutcome(row.resolution_outcome),
        provider_refund_id=row.resolution_reference,
        note=row.resolution_note,
        proposed_by=row.resolution_by,
        proposed_at=row.resolution_at,
    )


def _changing(refund: Refund) -> dict[str, Any]:
    r = refund.resolution
    return {
        "status": refund.status.value,
        "approved_by": refund.approved_by,
        "rejected_by": refund.rejected_by,
        "decision_note": refund.decision_note,
        "provider_requested_at": refund.provider_requested_at,
        "provider_code": refund.provider_code,
        "provider_message": refund.provider_message,
        "provider_refund_id": refund.provider_refund_id,
        "transfer_instruction": (
            dict(refund.transfer_instruction) if refund.transfer_instruction is not None else None
        ),
        "checks": refund.checks,
        "next_action_at": refund.next_action_at,
        "updated_at": refund.updated_at,
        "settled_at": refund.settled_at,
        "escalated_at": refund.escalated_at,
        "resolution_outcome": r.outcome.value if r else None,
        "resolution_reference": r.provider_refund_id if r else None,
        "resolution_note": r.note if r else None,
        "resolution_by": r.proposed_by if r else None,
        "resolution_at": r.proposed_at if r else None,
    }


class SqlRefunds:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, refund: Refund) -> None:
        await self._conn.execute(
            insert(rt.refunds),
            {
                "id": refund.id,
                "payment_id": refund.payment_id,
                "agency_id": refund.agency_id,
                "attempt_id": refund.attempt_id,
                "provider": refund.provider,
                "amount": refund.amount,
                "currency": refund.currency,
                "captured_amount": refund.captured_amount,
                "full_refund": refund.full,
                "from_excess": refund.from_excess,
                "reason": refund.reason,
                "requested_by": refund.requested_by,
                "request_id": refund.request_id,
                "created_at": refund.created_at,
                **_changing(refund),
            },
        )

    async def get(self, refund_id: str, *, lock: bool = False) -> Refund | None:
        stmt = select(rt.refunds).where(rt.refunds.c.id == refund_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return refund_from_row(row) if row else None

    async def for_payment(self, payment_id: str) -> Sequence[Refund]:
        c = rt.refunds.c
        rows = await self._conn.execute(
            select(rt.refunds).where(c.payment_id == payment_id).order_by(c.id)
        )
        return [refund_from_row(row) for row in rows]

    async def update(self, refund: Refund) -> None:
        await self._conn.execute(
            update(rt.refunds).where(rt.refunds.c.id == refund.id).values(**_changing(refund))
        )

    async def by_provider_refund_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        c = rt.refunds.c
        stmt = select(rt.refunds).where(
            c.provider == provider, c.provider_refund_id == provider_refund_id
        )
        row = (await self._conn.execute(stmt)).first()
        return refund_from_row(row) if row else None

    async def add_event(self, event: RefundEvent) -> None:
        await status_history.append(self._conn, rt.refund_events, event)

    async def events(self, refund_id: str) -> Sequence[RefundEvent]:
        return await status_history.history(
            self._conn, rt.refund_events, RefundEvent, "refund_id", refund_id
        )

    async def page(
        self, agency_id: int, flt: RefundFilter, *, before_id: str | None, limit: int
    ) -> Sequence[Refund]:
        c = rt.refunds.c
        stmt: Select[Any] = select(rt.refunds).where(c.agency_id == agency_id)
        if flt.statuses:
            stmt = stmt.where(c.status.in_(sorted(s.value for s in flt.statuses)))
        if flt.payment_id is not None:
            stmt = stmt.where(c.payment_id == flt.payment_id)
        if flt.created_from is not None:
            stmt = stmt.where(c.created_at >= flt.created_from)
        if flt.created_to is not None:
            stmt = stmt.where(c.created_at < flt.created_to)
        if flt.escalated is True:
            terminal = sorted(s.value for s in TERMINAL)
            stmt = stmt.where(c.escalated_at.is_not(None), c.status.not_in(terminal))
        elif flt.escalated is False:
            stmt = stmt.where(c.escalated_at.is_(None))
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        rows = await self._conn.execute(stmt.order_by(c.id.desc()).limit(limit))
        return [refund_from_row(row) for row in rows]

    async def claim_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        c = rt.refunds.c
        stmt = (
            select(rt.refunds)
            .where(
                c.status.in_(sorted(s.value for s in SCHEDULED)),
                c.next_action_at <= now,
            )
            .order_by(c.next_action_at, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [refund_from_row(row) for row in await self._conn.execute(stmt)]

    async def candidates(
        self, agency_id: int, *, before_id: str | None, limit: int
    ) -> Sequence[Payment]:
        c = t.payments.c
        stmt: Select[Any] = select(t.payments).where(
            c.agency_id == agency_id,
            c.status == "succeeded",
            or_(c.late, c.needs_review, c.overpaid_amount > 0),
        )
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        rows = await self._conn.execute(stmt.order_by(c.id.desc()).limit(limit))
        return [payment_from_row(row) for row in rows]

    async def remember_response(
        self, agency_id: int, key: str, status_code: int, body: str
    ) -> None:
        r = t.idempotency_records
        await self._conn.execute(
            update(r)
            .where(and_(r.c.agency_id == agency_id, r.c.key == key))
            .values(response_status=status_code, response_body=body)
        )
