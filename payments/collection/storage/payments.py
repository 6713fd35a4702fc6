"""Payment requests and their status history, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import status_history
from payments.adapters.db import tables as t
from payments.adapters.db.audit_log import SqlAuditLog
from payments.adapters.db.idempotency import claim_key
from payments.adapters.db.upsert import upsert_insert
from payments.domain.budget import BudgetDestination
from payments.domain.errors import ReferenceInUse
from payments.domain.events import AuditEntry, PaymentEvent
from payments.domain.ids import PAYMENT_ID_PREFIX, id_window
from payments.domain.payments import (
    EXPIRABLE,
    Payer,
    Payment,
    PaymentDraft,
    PaymentFlags,
    PaymentKind,
    PaymentStatus,
)
from payments.services.ports import (
    Creation,
    IdempotencyClaim,
    PaymentFilter,
)


def payment_values(payment: Payment) -> dict[str, Any]:
    d = payment.draft
    return {
        "id": payment.id,
        "agency_id": payment.agency_id,
        "reference": d.reference,
        "kind": d.kind.value,
        "amount": d.amount,
        "currency": d.currency,
        "description": d.description,
        "payer_name": d.payer.name,
        "payer_id_number": d.payer.id_number,
        "payer_tax_code": d.payer.tax_code,
        "payer_email": d.payer.email,
        "payer_phone": d.payer.phone,
        "treasury_account": d.budget.treasury_account,
        "treasury_code": d.budget.treasury_code,
        "collecting_agency": d.budget.collecting_agency,
        "chapter": d.budget.chapter,
        "sub_item": d.budget.sub_item,
        "area": d.budget.area,
        "tax_code": d.tax_code,
        "declaration_number": d.declaration_number,
        "return_url": d.return_url,
        "notify_url": d.notify_url,
        "metadata": dict(d.metadata),
        "status": payment.status.value,
        "checkout_token": payment.checkout_token,
        "expires_at": payment.expires_at,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }


def payment_from_row(row: Any) -> Payment:
    draft = PaymentDraft(
        reference=row.reference,
        kind=PaymentKind(row.kind),
        amount=row.amount,
        currency=row.currency,
        description=row.description,
        payer=Payer(
            name=row.payer_name,
            id_number=row.payer_id_number,
            tax_code=row.payer_tax_code,
            email=row.payer_email,
            phone=row.payer_phone,
        ),
        budget=BudgetDestination(
            treasury_account=row.treasury_account,
            treasury_code=row.treasury_code,
            collecting_agency=row.collecting_agency,
            chapter=row.chapter,
            sub_item=row.sub_item,
            area=row.area,
        ),
        return_url=row.return_url,
        tax_code=row.tax_code,
        declaration_number=row.declaration_number,
        notify_url=row.notify_url,
        expires_at=row.expires_at,
        metadata=dict(row.metadata),
    )
    return Payment(
        id=row.id,
        agency_id=row.agency_id,
        draft=draft,
        status=PaymentStatus(row.status),
        checkout_token=row.checkout_token,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        flags=PaymentFlags(
            late=row.late,
            needs_review=row.needs_review,
            received_amount=row.received_amount,
            overpaid_amount=row.overpaid_amount,
        ),
    )


class SqlPayments:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create_with_records(
        self, payment: Payment, event: PaymentEvent, audit: AuditEntry, claim: IdempotencyClaim
    ) -> Creation:
        earlier = await claim_key(
            self._conn,
            agency_id=claim.agency_id,
            key=claim.key,
            fingerprint=claim.fingerprint,
            now=claim.now,
            expires_at=claim.expires_at,
            response=claim.response,
        )
        if earlier is not None:
            return Creation(earlier=earlier)
        if not await self._insert(payment):
            raise await self._reference_in_use(payment)
        await SqlPaymentEvents(self._conn).add(event)
        await SqlAuditLog(self._conn).record(audit)
        return Creation(earlier=None)

    async def _reference_in_use(self, payment: Payment) -> ReferenceInUse:
        """The error for a payment whose reference another open payment holds, naming it."""
        holder = await self.holding_reference(payment.agency_id, payment.draft.reference)
        if holder is None:  # the holder moved on between the two statements; rare, retryable
            return ReferenceInUse(payment.draft.reference, "(a concurrent request)", "changing")
        return ReferenceInUse(payment.draft.reference, holder.id, holder.status.value)

    async def _insert(self, payment: Payment) -> bool:
        """Insert unless another open payment holds the reference; True if inserted."""
        # The values go in as execution parameters, not .values(...): SQLAlchemy then neither
        # coerces 28 literals nor walks them for the cache key on every request.
        stmt = (
            upsert_insert(self._conn, t.payments)
            .on_conflict_do_nothing(
                index_elements=["agency_id", "reference"],
                # Literal SQL, not bound parameters: after a few executions PostgreSQL uses a
                # generic plan and can no longer match parameters to the partial index.
                index_where=text(t.OPEN_STATUSES_SQL),
            )
            .returning(t.payments.c.id)
        )
        return (await self._conn.execute(stmt, payment_values(payment))).first() is not None

    async def get(self, agency_id: int, payment_id: str, *, lock: bool = False) -> Payment | None:
        stmt = select(t.payments).where(
            t.payments.c.id == payment_id, t.payments.c.agency_id == agency_id
        )
        if lock:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return payment_from_row(row) if row else None

    async def holding_reference(self, agency_id: int, reference: str) -> Payment | None:
        row = (
            await self._conn.execute(
                select(t.payments).where(
                    t.payments.c.agency_id == agency_id,
                    t.payments.c.reference == reference,
                    t.payments.c.status.in_(["created", "pending", "failed", "succeeded"]),
                )
            )
        ).first()
        return payment_from_row(row) if row else None

    async def page(
        self, agency_id: int, flt: PaymentFilter, *, before_id: str | None, limit: int
    ) -> Sequence[Payment]:
        c = t.payments.c
        stmt: Select[Any] = select(t.payments).where(c.agency_id == agency_id)
        if flt.reference is not None:
            stmt = stmt.where(c.reference == flt.reference)
        if flt.statuses:
            stmt = stmt.where(c.status.in_(sorted(s.value for s in flt.statuses)))
        if flt.kind is not None:
            stmt = stmt.where(c.kind == flt.kind.value)
        if flt.created_from is not None:
            stmt = stmt.where(c.created_at >= flt.created_from)
        if flt.created_to is not None:
            stmt = stmt.where(c.created_at < flt.created_to)
        # A payment's id is minted at its created_at: the window is also a range on the
        # (agency_id, id) index, so a narrow window reads only its own rows.
        low, high = id_window(PAYMENT_ID_PREFIX, flt.created_from, flt.created_to)
        if low is not None:
            stmt = stmt.where(c.id >= low)
        if high is not None:
            stmt = stmt.where(c.id < high)
        if flt.left_for_review:
            a = t.payment_attempts.c
            stmt = stmt.where(
                exists().where(
                    a.payment_id == c.id,
                    a.left_for_review_at.is_not(None),
                    a.status.in_(["pending", "unknown"]),
                )
            )
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        rows = await self._conn.execute(stmt.order_by(c.id.desc()).limit(limit))
        return [payment_from_row(row) for row in rows]

    async def set_status(self, payment_id: str, status: PaymentStatus, now: datetime) -> None:
        await self._conn.execute(
            update(t.payments)
            .where(t.payments.c.id == payment_id)
            .values(status=status.value, updated_at=now)
        )

    async def claim_expired(self, now: datetime, limit: int) -> Sequence[Payment]:
        c = t.payments.c
        stmt = (
            select(t.payments)
            .where(c.status.in_(sorted(s.value for s in EXPIRABLE)), c.expires_at <= now)
            .order_by(c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [payment_from_row(row) for row in await self._conn.execute(stmt)]

    async def by_id(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        stmt = select(t.payments).where(t.payments.c.id == payment_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return payment_from_row(row) if row else None

    async def by_checkout_token(self, token: str) -> Payment | None:
        stmt = select(t.payments).where(t.payments.c.checkout_token == token)
        row = (await self._conn.execute(stmt)).first()
        return payment_from_row(row) if row else None

    async def set_flags(self, payment_id: str, flags: PaymentFlags, now: datetime) -> None:
        await self._conn.execute(
            update(t.payments)
            .where(t.payments.c.id == payment_id)
            .values(
                late=flags.late,
                needs_review=flags.needs_review,
                received_amount=flags.received_amount,
                overpaid_amount=flags.overpaid_amount,
                updated_at=now,
            )
        )


class SqlPaymentEvents:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: PaymentEvent) -> None:
        await status_history.append(self._conn, t.payment_events, event)

    async def for_payment(self, payment_id: str) -> Sequence[PaymentEvent]:
        return await status_history.history(
            self._conn, t.payment_events, PaymentEvent, "payment_id", payment_id
        )
