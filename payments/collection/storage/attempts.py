"""SQLAlchemy implementations of the checkout ports: payment attempts and provider callbacks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.domain.attempts import Attempt, AttemptStatus, Provider, Verdict
from payments.domain.callbacks import Channel, ProviderCallback
from payments.domain.credits import BankCredit
from payments.services.ports import DueAttempt


def _attempt(row: Any) -> Attempt:
    return Attempt(
        id=row.id,
        payment_id=row.payment_id,
        provider=Provider(row.provider),
        provider_ref=row.provider_ref,
        merchant=row.merchant,
        amount=row.amount,
        currency=row.currency,
        status=AttemptStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        provider_txn_id=row.provider_txn_id,
        result_code=row.result_code,
        next_query_at=row.next_query_at,
        query_count=row.query_count,
        redirect_url=row.redirect_url,
        left_for_review_at=row.left_for_review_at,
    )


class SqlAttempts:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, attempt: Attempt) -> None:
        await self._conn.execute(
            insert(t.payment_attempts).values(
                id=attempt.id,
                payment_id=attempt.payment_id,
                provider=attempt.provider.value,
                provider_ref=attempt.provider_ref,
                merchant=attempt.merchant,
                amount=attempt.amount,
                currency=attempt.currency,
                status=attempt.status.value,
                provider_txn_id=attempt.provider_txn_id,
                result_code=attempt.result_code,
                created_at=attempt.created_at,
                updated_at=attempt.updated_at,
                next_query_at=attempt.next_query_at,
                query_count=attempt.query_count,
                redirect_url=attempt.redirect_url,
                left_for_review_at=attempt.left_for_review_at,
            )
        )

    async def get(self, attempt_id: str) -> Attempt | None:
        stmt = select(t.payment_attempts).where(t.payment_attempts.c.id == attempt_id)
        row = (await self._conn.execute(stmt)).first()
        return _attempt(row) if row else None

    async def by_provider_ref(self, provider: Provider, provider_ref: str) -> Attempt | None:
        c = t.payment_attempts.c
        stmt = select(t.payment_attempts).where(
            c.provider == provider.value, c.provider_ref == provider_ref
        )
        row = (await self._conn.execute(stmt)).first()
        return _attempt(row) if row else None

    async def for_payment(self, payment_id: str) -> Sequence[Attempt]:
        c = t.payment_attempts.c
        stmt = (
            select(t.payment_attempts)
            .where(c.payment_id == payment_id)
            .order_by(c.created_at, c.id)
        )
        return [_attempt(row) for row in await self._conn.execute(stmt)]

    async def update(self, attempt: Attempt) -> None:
        await self._conn.execute(
            update(t.payment_attempts)
            .where(t.payment_attempts.c.id == attempt.id)
            .values(
                status=attempt.status.value,
                provider_txn_id=attempt.provider_txn_id,
                result_code=attempt.result_code,
                updated_at=attempt.updated_at,
                next_query_at=attempt.next_query_at,
                query_count=attempt.query_count,
                redirect_url=attempt.redirect_url,
                left_for_review_at=attempt.left_for_review_at,
            )
        )

    async def claim_due(self, now: datetime, limit: int) -> Sequence[DueAttempt]:
        a, p = t.payment_attempts, t.payments
        # Only the schedule decides: the payment's expiry is a moment of the schedule itself
        # (``query_schedule``), so an expired payment's attempts are not asked every round.
        stmt = (
            select(a, p.c.expires_at.label("payment_expires_at"))
            .join(p, p.c.id == a.c.payment_id)
            .where(
                a.c.status.in_(["pending", "unknown"]),
                a.c.next_query_at.is_not(None),
                a.c.next_query_at <= now,
            )
            .order_by(a.c.next_query_at)
            .limit(limit)
            .with_for_update(of=a, skip_locked=True)
        )
        return [
            DueAttempt(_attempt(row), row.payment_expires_at)
            for row in await self._conn.execute(stmt)
        ]


def _callback(row: Any) -> ProviderCallback:
    return ProviderCallback(
        id=row.id,
        provider=Provider(row.provider),
        channel=Channel(row.channel),
        payload=dict(row.payload),
        received_at=row.received_at,
        verification=row.verification,
        provider_ref=row.provider_ref,
        payment_id=row.payment_id,
        attempt_id=row.attempt_id,
        verdict=Verdict(row.verdict) if row.verdict else None,
        reason=row.reason,
        detail=dict(row.detail),
    )


class SqlCallbackLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, callback: ProviderCallback) -> int:
        result = await self._conn.execute(
            insert(t.provider_callbacks)
            .values(
                provider=callback.provider.value,
                channel=callback.channel.value,
                received_at=callback.received_at,
                payload=dict(callback.payload),
                verification=callback.verification,
                provider_ref=callback.provider_ref,
                payment_id=callback.payment_id,
                attempt_id=callback.attempt_id,
                verdict=callback.verdict.value if callback.verdict else None,
                reason=callback.reason,
                detail=dict(callback.detail),
            )
            .returning(t.provider_callbacks.c.id)
        )
        return int(result.scalar_one())

    async def for_payment(self, payment_id: str) -> Sequence[ProviderCallback]:
        c = t.provider_callbacks.c
        stmt = select(t.provider_callbacks).where(c.payment_id == payment_id).order_by(c.id)
        return [_callback(row) for row in await self._conn.execute(stmt)]


def _credit(row: Any) -> BankCredit:
    return BankCredit(
        transfer_id=row.transfer_id,
        amount=row.amount,
        currency=row.currency,
        description=row.description,
        credited_at=row.credited_at,
        reference=row.reference,
        attempt_id=row.attempt_id,
        payment_id=row.payment_id,
    )


class SqlCredits:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, credit: BankCredit, received_at: datetime) -> bool:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        # DO NOTHING: a concurrent notification of the same transfer waits for ours to commit,
        # then finds it, instead of aborting the transaction.
        stmt = (
            dialect.insert(t.bank_credits)
            .values(
                transfer_id=credit.transfer_id,
                amount=credit.amount,
                currency=credit.currency,
                description=credit.description,
                credited_at=credit.credited_at,
                received_at=received_at,
                reference=credit.reference,
                attempt_id=credit.attempt_id,
                payment_id=credit.payment_id,
            )
            .on_conflict_do_nothing(index_elements=["transfer_id"])
            .returning(t.bank_credits.c.id)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def for_payment(self, payment_id: str) -> Sequence[BankCredit]:
        c = t.bank_credits.c
        stmt = select(t.bank_credits).where(c.payment_id == payment_id).order_by(c.id)
        return [_credit(row) for row in await self._conn.execute(stmt)]

    async def unmatched(self, limit: int) -> Sequence[BankCredit]:
        c = t.bank_credits.c
        stmt = (
            select(t.bank_credits)
            .where(c.payment_id.is_(None))
            .order_by(c.received_at)
            .limit(limit)
        )
        return [_credit(row) for row in await self._conn.execute(stmt)]
