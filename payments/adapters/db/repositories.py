"""SQLAlchemy implementations of the service ports for the payment-request core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exists, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import status_history
from payments.adapters.db import tables as t
from payments.domain.access import Agency, ApiKey, Role
from payments.domain.budget import BudgetDestination
from payments.domain.errors import ReferenceInUse
from payments.domain.events import AuditEntry, AuditRecord, PaymentEvent
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
    AuditFilter,
    Creation,
    IdempotencyClaim,
    IdempotencyRecord,
    PaymentFilter,
    StoredResponse,
)


def _upsert_insert(conn: AsyncConnection, table: Any) -> Any:
    """INSERT that understands ON CONFLICT on both databases."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _agency(row: Any) -> Agency:
    return Agency(
        id=row.id,
        code=row.code,
        name=row.name,
        allowed_hosts=frozenset(row.allowed_hosts),
        created_at=row.created_at,
    )


class SqlAgencies:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(
        self, *, code: str, name: str, allowed_hosts: frozenset[str], now: datetime
    ) -> Agency:
        result = await self._conn.execute(
            insert(t.agencies)
            .values(code=code, name=name, allowed_hosts=sorted(allowed_hosts), created_at=now)
            .returning(t.agencies.c.id)
        )
        return Agency(
            id=result.scalar_one(),
            code=code,
            name=name,
            allowed_hosts=allowed_hosts,
            created_at=now,
        )

    async def by_code(self, code: str) -> Agency | None:
        row = (
            await self._conn.execute(select(t.agencies).where(t.agencies.c.code == code))
        ).first()
        return _agency(row) if row else None

    async def by_id(self, agency_id: int) -> Agency | None:
        row = (
            await self._conn.execute(select(t.agencies).where(t.agencies.c.id == agency_id))
        ).first()
        return _agency(row) if row else None

    async def list(self) -> Sequence[Agency]:
        rows = await self._conn.execute(select(t.agencies).order_by(t.agencies.c.code))
        return [_agency(row) for row in rows]


class SqlApiKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(
        self,
        *,
        agency_id: int,
        role: Role,
        key_hash: str,
        prefix: str,
        label: str | None,
        now: datetime,
        rate_limit_per_minute: int | None = None,
    ) -> ApiKey:
        result = await self._conn.execute(
            insert(t.api_keys)
            .values(
                agency_id=agency_id,
                role=role.value,
                key_hash=key_hash,
                prefix=prefix,
                label=label,
                created_at=now,
                rate_limit_per_minute=rate_limit_per_minute,
            )
            .returning(t.api_keys.c.id)
        )
        return ApiKey(
            id=result.scalar_one(),
            agency_id=agency_id,
            role=role,
            prefix=prefix,
            label=label,
            created_at=now,
            revoked_at=None,
            rate_limit_per_minute=rate_limit_per_minute,
        )

    async def by_hash(self, key_hash: str) -> tuple[ApiKey, Agency] | None:
        k, a = t.api_keys, t.agencies
        row = (
            await self._conn.execute(
                select(
                    k.c.id,
                    k.c.agency_id,
                    k.c.role,
                    k.c.prefix,
                    k.c.label,
                    k.c.created_at,
                    k.c.revoked_at,
                    k.c.rate_limit_per_minute,
                    a.c.code,
                    a.c.name,
                    a.c.allowed_hosts,
                    a.c.created_at.label("agency_created_at"),
                )
                .join(a, a.c.id == k.c.agency_id)
                .where(k.c.key_hash == key_hash)
            )
        ).first()
        if row is None:
            return None
        key = ApiKey(
            id=row.id,
            agency_id=row.agency_id,
            role=Role(row.role),
            prefix=row.prefix,
            label=row.label,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            rate_limit_per_minute=row.rate_limit_per_minute,
        )
        agency = Agency(
            id=row.agency_id,
            code=row.code,
            name=row.name,
            allowed_hosts=frozenset(row.allowed_hosts),
            created_at=row.agency_created_at,
        )
        return key, agency


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
            _upsert_insert(self._conn, t.payments)
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


async def claim_key(
    conn: AsyncConnection,
    *,
    agency_id: int,
    key: str,
    fingerprint: str,
    now: datetime,
    expires_at: datetime,
    response: StoredResponse | None,
) -> IdempotencyRecord | None:
    """Take the key (with the answer to keep, when known), or return the live record.

    A concurrent holder of the key makes this wait until it commits or rolls back.
    """
    r = t.idempotency_records
    stored = {
        "fingerprint": fingerprint,
        "response_status": response.status_code if response else None,
        "response_body": response.body if response else None,
        "created_at": now,
        "expires_at": expires_at,
    }
    inserted = await conn.execute(
        _upsert_insert(conn, r)
        .on_conflict_do_nothing(index_elements=["agency_id", "key"])
        .returning(r.c.id),
        {"agency_id": agency_id, "key": key, **stored},
    )
    if inserted.first() is not None:
        return None
    where = and_(r.c.agency_id == agency_id, r.c.key == key)
    row = (await conn.execute(select(r).where(where).with_for_update())).one()
    if row.expires_at <= now:
        # An expired key is free again: take it over for this request.
        await conn.execute(update(r).where(where).values(**stored))
        return None
    earlier = (
        StoredResponse(row.response_status, row.response_body)
        if row.response_status is not None
        else None
    )
    return IdempotencyRecord(key=row.key, fingerprint=row.fingerprint, response=earlier)


class SqlIdempotency:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(
        self, *, agency_id: int, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        return await claim_key(
            self._conn,
            agency_id=agency_id,
            key=key,
            fingerprint=fingerprint,
            now=now,
            expires_at=expires_at,
            response=None,
        )

    async def purge(self, now: datetime) -> int:
        r = t.idempotency_records
        result = await self._conn.execute(delete(r).where(r.c.expires_at <= now))
        return int(result.rowcount)


class SqlAuditLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, entry: AuditEntry) -> None:
        await self._conn.execute(
            insert(t.audit_log),
            {
                "occurred_at": entry.occurred_at,
                "actor": entry.actor,
                "agency_id": entry.agency_id,
                "action": entry.action,
                "target_type": entry.target_type,
                "target_id": entry.target_id,
                "detail": dict(entry.detail),
                "request_id": entry.request_id,
            },
        )

    async def page(
        self, flt: AuditFilter, *, before_id: int | None, limit: int
    ) -> Sequence[AuditRecord]:
        c, agencies = t.audit_log.c, t.agencies
        stmt: Select[Any] = select(t.audit_log, agencies.c.code.label("agency_code")).join_from(
            t.audit_log, agencies, agencies.c.id == c.agency_id, isouter=True
        )
        # Each filter is a plain condition on an indexed column (actor, action, target,
        # occurred_at), so the database pages by id without reading what it skips.
        if flt.actor is not None:
            stmt = stmt.where(c.actor == flt.actor)
        if flt.action is not None:
            stmt = stmt.where(c.action == flt.action)
        if flt.action_prefix is not None:
            stmt = stmt.where(c.action.startswith(flt.action_prefix, autoescape=True))
        if flt.target_type is not None:
            stmt = stmt.where(c.target_type == flt.target_type)
        if flt.target_id is not None:
            stmt = stmt.where(c.target_id == flt.target_id)
        if flt.occurred_from is not None:
            stmt = stmt.where(c.occurred_at >= flt.occurred_from)
        if flt.occurred_to is not None:
            stmt = stmt.where(c.occurred_at < flt.occurred_to)
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        rows = await self._conn.execute(stmt.order_by(c.id.desc()).limit(limit))
        return [
            AuditRecord(
                id=int(row.id),
                entry=AuditEntry(
                    action=row.action,
                    actor=row.actor,
                    occurred_at=row.occurred_at,
                    agency_id=row.agency_id,
                    target_type=row.target_type,
                    target_id=row.target_id,
                    detail=row.detail,
                    request_id=row.request_id,
                ),
                agency_code=row.agency_code,
            )
            for row in rows
        ]
