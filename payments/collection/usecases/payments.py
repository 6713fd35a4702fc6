"""Payment request use cases: create, read, list, cancel, expire."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from payments.domain.access import Caller
from payments.domain.attempts import Attempt
from payments.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from payments.domain.events import AuditEntry, PaymentEvent
from payments.domain.ids import new_checkout_token, new_payment_id
from payments.domain.pages import one_page
from payments.domain.payments import (
    CANCELLABLE,
    CreationRules,
    Payment,
    PaymentDraft,
    PaymentStatus,
    check_transition,
    validate_draft,
)
from payments.services.outbox import publish_payment_status
from payments.services.ports import (
    IdempotencyClaim,
    IdempotencyRecord,
    PaymentFilter,
    StoredResponse,
    UnitOfWork,
    UnitOfWorkFactory,
)


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    fingerprint: str


def fingerprint(method: str, path: str, body: Mapping[str, Any]) -> str:
    """Hash of the request as the caller meant it: key order and spacing do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    """A new payment, or the stored answer to an earlier request with the same key."""

    payment: Payment | None
    response: StoredResponse
    replayed: bool


@dataclass(frozen=True)
class CreationLimits:
    max_amount: int
    currencies: frozenset[str]  # the currencies the agency's providers can take
    allow_plain_http: bool
    default_expiry: timedelta
    max_expiry: timedelta
    idempotency_ttl: timedelta


async def create_payment(
    uow_factory: UnitOfWorkFactory,
    *,
    caller: Caller,
    draft: PaymentDraft,
    idempotency: IdempotentRequest,
    limits: CreationLimits,
    respond: Callable[[Payment], StoredResponse],
    now: datetime,
    request_id: str | None = None,
) -> Created:
    rules = CreationRules(
        max_amount=limits.max_amount,
        currencies=limits.currencies,
        allowed_hosts=caller.allowed_hosts,
        allow_plain_http=limits.allow_plain_http,
        now=now,
        default_expiry=limits.default_expiry,
        max_expiry=limits.max_expiry,
    )
    try:
        expires_at = validate_draft(draft, rules)
    except InvalidInput:
        # A retry of an earlier request gets the stored answer even if the same body would no
        # longer pass (its expiry has passed since, say): look at the key before refusing. The
        # claim, like a concurrent holder's, is never committed: a refusal keeps the key free.
        async with uow_factory() as uow:
            earlier = await uow.idempotency.claim(
                agency_id=caller.agency_id,
                key=idempotency.key,
                fingerprint=idempotency.fingerprint,
                now=now,
                expires_at=now + limits.idempotency_ttl,
            )
        if earlier is not None:
            return _replay(earlier, idempotency)
        raise
    payment = Payment(
        id=new_payment_id(now),
        agency_id=caller.agency_id,
        draft=draft,
        status=PaymentStatus.CREATED,
        checkout_token=new_checkout_token(),
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    # The answer is known before anything is stored, so it goes in with the key: one
    # statement on PostgreSQL takes the key and stores the payment, event and audit row.
    response = respond(payment)
    async with uow_factory() as uow:
        creation = await uow.payments.create_with_records(
            payment,
            PaymentEvent(
                payment_id=payment.id,
                from_status=None,
                to_status=PaymentStatus.CREATED.value,
                cause="api.create",
                actor=caller.actor,
                occurred_at=now,
                detail={"amount": draft.amount, "currency": draft.currency},
            ),
            AuditEntry(
                action="payment.created",
                actor=caller.actor,
                occurred_at=now,
                agency_id=caller.agency_id,
                target_type="payment",
                target_id=payment.id,
                detail={"reference": draft.reference, "idempotency_key": idempotency.key},
                request_id=request_id,
            ),
            IdempotencyClaim(
                agency_id=caller.agency_id,
                key=idempotency.key,
                fingerprint=idempotency.fingerprint,
                response=response,
                now=now,
                expires_at=now + limits.idempotency_ttl,
            ),
        )
        if creation.earlier is not None:
            return _replay(creation.earlier, idempotency)
        await uow.commit()
    return Created(payment=payment, response=response, replayed=False)


def _replay(earlier: IdempotencyRecord, idempotency: IdempotentRequest) -> Created:
    """The stored answer for a key already taken, if this is the same request."""
    if earlier.fingerprint != idempotency.fingerprint:
        raise IdempotencyKeyReused(idempotency.key)
    if earlier.response is None:
        raise Conflict(f"a request with Idempotency-Key {idempotency.key!r} is in progress")
    return Created(payment=None, response=earlier.response, replayed=True)


async def get_payment(uow_factory: UnitOfWorkFactory, caller: Caller, payment_id: str) -> Payment:
    async with uow_factory() as uow:
        return await _visible_payment(uow, caller, payment_id)


async def payment_with_attempts(
    uow_factory: UnitOfWorkFactory, caller: Caller, payment_id: str
) -> tuple[Payment, Sequence[Attempt]]:
    """The payment and its attempts, oldest first: what became of each provider try."""
    async with uow_factory() as uow:
        payment = await _visible_payment(uow, caller, payment_id)
        return payment, await uow.attempts.for_payment(payment.id)


async def list_payments(
    uow_factory: UnitOfWorkFactory,
    caller: Caller,
    flt: PaymentFilter,
    *,
    before_id: str | None,
    limit: int,
) -> tuple[Sequence[Payment], bool]:
    """One page, newest first, and whether more pages follow."""
    async with uow_factory() as uow:
        return await one_page(
            lambda n: uow.payments.page(caller.agency_id, flt, before_id=before_id, limit=n), limit
        )


async def payment_events(
    uow_factory: UnitOfWorkFactory, caller: Caller, payment_id: str
) -> Sequence[PaymentEvent]:
    async with uow_factory() as uow:
        await _visible_payment(uow, caller, payment_id)
        return await uow.events.for_payment(payment_id)


async def cancel_payment(
    uow_factory: UnitOfWorkFactory,
    caller: Caller,
    payment_id: str,
    *,
    reason: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Payment:
    """Cancel an unpaid payment. Cancelling a cancelled payment is a no-op, not an error."""
    async with uow_factory() as uow:
        payment = await _visible_payment(uow, caller, payment_id, lock=True)
        if payment.status is PaymentStatus.CANCELLED:
            return payment
        if payment.status not in CANCELLABLE:
            raise InvalidTransition(payment.id, payment.status.value, PaymentStatus.CANCELLED.value)
        updated = await _transition(
            uow,
            payment,
            PaymentStatus.CANCELLED,
            cause="api.cancel",
            actor=caller.actor,
            now=now,
            detail={"reason": reason} if reason else {},
        )
        await uow.audit.record(
            AuditEntry(
                action="payment.cancelled",
                actor=caller.actor,
                occurred_at=now,
                agency_id=caller.agency_id,
                target_type="payment",
                target_id=payment.id,
                detail={"reason": reason} if reason else {},
                request_id=request_id,
            )
        )
        await uow.commit()
    return updated


async def expire_due_payments(
    uow_factory: UnitOfWorkFactory, *, now: datetime, batch_size: int = 200
) -> int:
    """Expire open payments past their expiry; safe to run in several processes at once."""
    expired = 0
    while True:
        async with uow_factory() as uow:
            due = await uow.payments.claim_expired(now, batch_size)
            for payment in due:
                await _transition(
                    uow, payment, PaymentStatus.EXPIRED, cause="expiry", actor="system", now=now
                )
            await uow.commit()
        expired += len(due)
        if len(due) < batch_size:
            return expired


async def purge_idempotency_records(uow_factory: UnitOfWorkFactory, *, now: datetime) -> int:
    """Forget Idempotency-Keys older than their time to live."""
    async with uow_factory() as uow:
        purged = await uow.idempotency.purge(now)
        await uow.commit()
    return purged


async def _transition(
    uow: UnitOfWork,
    payment: Payment,
    status: PaymentStatus,
    *,
    cause: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> Payment:
    check_transition(payment.id, payment.status, status)
    await uow.payments.set_status(payment.id, status, now)
    await uow.events.add(
        PaymentEvent(
            payment_id=payment.id,
            from_status=payment.status.value,
            to_status=status.value,
            cause=cause,
            actor=actor,
            occurred_at=now,
            detail=dict(detail or {}),
        )
    )
    moved = replace(payment, status=status, updated_at=now)
    await publish_payment_status(uow, moved, now)
    return moved


async def _visible_payment(
    uow: UnitOfWork, caller: Caller, payment_id: str, *, lock: bool = False
) -> Payment:
    payment = await uow.payments.get(caller.agency_id, payment_id, lock=lock)
    if payment is None:
        # Another agency's payment answers exactly like a missing one: no existence oracle.
        raise NotFound(f"no payment {payment_id}")
    return payment
