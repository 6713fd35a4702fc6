"""Refund use cases for finance officers: ask, approve, reject, confirm, read.

Asking is one transaction that locks the payment row (``FOR UPDATE``), reads its refunds,
checks what is available and inserts the new refund: concurrent requests on one payment take
turns, so together they can never refund more than was captured. The refund's own
``request_id`` is its identity at the provider; sending it is ``refund_execution``'s job,
after this transaction has committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payments.collection.usecases.payments import IdempotentRequest
from payments.domain.access import Caller, Role
from payments.domain.errors import (
    Conflict,
    FieldProblem,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
)
from payments.domain.events import AuditEntry
from payments.domain.pages import one_page
from payments.domain.payments import Payment, PaymentStatus
from payments.domain.text import text_problem
from payments.refunds.ports import RefundFilter, RefundWork, RefundWorkFactory
from payments.refunds.rules.lifecycle import (
    Refund,
    RefundEvent,
    RefundExceedsAvailable,
    RefundStatus,
    RefundTotals,
    check_four_eyes,
    choose_source,
    excess_left,
    needs_approval,
    new_refund_id,
    totals,
)
from payments.refunds.usecases.decisions import (
    Decided,
    audit_refund,
    decide,
    require_officer,
    visible_refund,
)
from payments.refunds.usecases.ledger import book, pay, unbook
from payments.refunds.usecases.transitions import move_refund, publish_refund_status
from payments.services.ports import IdempotencyRecord, StoredResponse

MAX_REASON = 500


@dataclass(frozen=True)
class RefundPolicy:
    approval_threshold: int  # above it, a second finance officer approves
    idempotency_ttl: timedelta


@dataclass(frozen=True)
class RefundAsked:
    """A new refund, or the stored answer to an earlier request with the same key."""

    refund: Refund | None
    response: StoredResponse
    replayed: bool


@dataclass(frozen=True)
class PaymentRefunds:
    payment: Payment
    totals: RefundTotals
    refunds: Sequence[Refund]


def _check_request(amount: int, reason: str, expected_available: int | None) -> str:
    problems = []
    if type(amount) is not int or amount <= 0:
        problems.append(FieldProblem("amount", "must be a positive integer of minor units"))
    cleaned = reason.strip()
    if not cleaned:
        problems.append(FieldProblem("reason", "must not be empty"))
    elif len(cleaned) > MAX_REASON or text_problem(cleaned):
        problems.append(
            FieldProblem("reason", f"must be at most {MAX_REASON} printable characters")
        )
    if expected_available is not None and expected_available < 0:
        problems.append(FieldProblem("expected_available", "must not be negative"))
    if problems:
        raise InvalidInput(problems)
    return cleaned


async def _still_with_the_provider(uow: RefundWork, payment_id: str, from_budget: int) -> None:
    """A refund comes out of what the provider still owes for the capture. Once the provider
    settled it, or the treasury confirmed it, the budget's share is the State Treasury's:
    returning it is the treasury's budget refund procedure, not a refund through the gateway
    (the books would otherwise read a negative clearing or budget payable balance). Money taken
    beyond the amount never was the budget's and can always be refunded."""
    if from_budget == 0:
        return
    await uow.reconciliation.lock_settlements(exclusive=False)
    settled, confirmed = await uow.reconciliation.passed_on(payment_id)
    if confirmed is not None:
        raise Conflict(
            f"payment {payment_id} reached the State Treasury (confirmed on the statement of "
            f"{confirmed.isoformat()}): a refund is the treasury's budget refund procedure"
        )
    if settled is not None:
        raise Conflict(
            f"payment {payment_id} was settled by its provider on {settled.isoformat()} and "
            "is on its way to the State Treasury: a refund is the treasury's budget refund "
            "procedure"
        )


async def request_refund(
    uow_factory: RefundWorkFactory,
    *,
    caller: Caller,
    payment_id: str,
    amount: int,
    reason: str,
    expected_available: int | None,
    idempotency: IdempotentRequest,
    policy: RefundPolicy,
    respond: Callable[[Refund], StoredResponse],
    now: datetime,
    request_id: str | None = None,
) -> RefundAsked:
    """Ask for a refund of ``amount`` of a succeeded payment of the caller's agency.

    At or below the threshold it is ``approved`` (booked in the ledger, due to be sent);
    above it ``awaiting_approval``. Either way it holds its amount from now on.
    """
    require_officer(caller)
    async with uow_factory() as uow:
        # The key first: a retry of an earlier request gets its answer even if the same body
        # would be refused now (its expected_available is stale by its own refund).
        earlier = await uow.idempotency.claim(
            agency_id=caller.agency_id,
            key=idempotency.key,
            fingerprint=idempotency.fingerprint,
            now=now,
            expires_at=now + policy.idempotency_ttl,
        )
        if earlier is not None:
            return _replay(earlier, idempotency)
        cleaned = _check_request(amount, reason, expected_available)
        payment = await uow.payments.get(caller.agency_id, payment_id, lock=True)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        if payment.status is not PaymentStatus.SUCCEEDED:
            raise Conflict(
                f"payment {payment.id} is {payment.status.value}; only money taken can be refunded"
            )
        refunds = await uow.refunds.for_payment(payment.id)
        from_excess = min(amount, excess_left(payment, refunds))
        await _still_with_the_provider(uow, payment.id, amount - from_excess)
        sums = totals(payment, refunds)
        if expected_available is not None and expected_available != sums.available:
            raise PreconditionFailed(
                f"payment {payment.id} has {sums.available} available to refund, not "
                f"{expected_available}: reload it before refunding"
            )
        if amount > sums.available:
            raise RefundExceedsAvailable(payment.id, amount, sums.available)
        source = choose_source(payment, await uow.attempts.for_payment(payment.id), refunds, amount)
        waits = needs_approval(amount, policy.approval_threshold)
        refund_id = new_refund_id(now)
        refund = Refund(
            id=refund_id,
            payment_id=payment.id,
            agency_id=payment.agency_id,
            attempt_id=source.attempt.id,
            provider=source.attempt.provider.value,
            amount=amount,
            currency=payment.draft.currency,
            captured_amount=source.captured,
            full=source.full,
            from_excess=from_excess,
            reason=cleaned,
            status=RefundStatus.AWAITING_APPROVAL if waits else RefundStatus.APPROVED,
            requested_by=caller.actor,
            request_id=refund_id,  # letters, digits and '_': a valid VNPay and MoMo request id
            created_at=now,
            updated_at=now,
            next_action_at=None if waits else now,
        )
        await uow.refunds.add(refund)
        await uow.refunds.add_event(
            RefundEvent(
                refund_id=refund.id,
                payment_id=payment.id,
                from_status=None,
                to_status=refund.status.value,
                cause="api.request",
                actor=caller.actor,
                occurred_at=now,
                detail={"amount": amount, "threshold": policy.approval_threshold},
            )
        )
        await audit_refund(uow, caller, "refund.requested", refund, now, request_id,
                     amount=amount, reason=cleaned, idempotency_key=idempotency.key)  # fmt: skip
        await publish_refund_status(uow, refund, now, notify_url=payment.draft.notify_url)
        if not waits:
            await book(uow, refund, now)
        response = respond(refund)
        await uow.refunds.remember_response(
            caller.agency_id, idempotency.key, response.status_code, response.body
        )
        await uow.commit()
    return RefundAsked(refund, response, replayed=False)


def _replay(earlier: IdempotencyRecord, idempotency: IdempotentRequest) -> RefundAsked:
    if earlier.fingerprint != idempotency.fingerprint:
        raise IdempotencyKeyReused(idempotency.key)
    if earlier.response is None:
        raise Conflict(f"a request with Idempotency-Key {idempotency.key!r} is in progress")
    return RefundAsked(None, earlier.response, replayed=True)


def replayed_refund_id(response: StoredResponse) -> str | None:
    """The refund a stored answer names (the API shows its current state on a replay)."""
    try:
        body: Any = json.loads(response.body)
    except ValueError:
        return None
    found = body.get("id") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


async def approve_refund(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    """A second finance officer of the agency approves: the refund is booked and due to be
    sent. Approving one's own request is refused; approving twice is harmless."""
    require_officer(caller)

    async def approve(uow: RefundWork, refund: Refund) -> Decided:
        check_four_eyes(refund, caller.actor)
        if refund.status is not RefundStatus.AWAITING_APPROVAL:
            if refund.approved_by == caller.actor:
                return Decided(refund)
            raise InvalidTransition(refund.id, refund.status.value, RefundStatus.APPROVED.value)
        await _still_with_the_provider(uow, refund.payment_id, refund.from_budget)
        approved = await move_refund(
            uow,
            refund,
            RefundStatus.APPROVED,
            cause="api.approve",
            actor=caller.actor,
            now=now,
            detail={"note": note} if note else {},
            approved_by=caller.actor,
            decision_note=note,
            next_action_at=now,
        )
        await book(uow, approved, now)
        return Decided(approved, "refund.approved", {"note": note})

    return await decide(uow_factory, caller, refund_id, approve, now=now, request_id=request_id)


async def reject_refund(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    """Refuse a refund waiting for approval; its amount is available again. The officer who
    asked may withdraw it this way too (rejecting moves no money)."""
    require_officer(caller)

    async def reject(uow: RefundWork, refund: Refund) -> Decided:
        if refund.status is not RefundStatus.AWAITING_APPROVAL:
            if refund.rejected_by == caller.actor:
                return Decided(refund)
            raise InvalidTransition(refund.id, refund.status.value, RefundStatus.REJECTED.value)
        rejected = await move_refund(
            uow,
            refund,
            RefundStatus.REJECTED,
            cause="api.reject",
            actor=caller.actor,
            now=now,
            detail={"note": note} if note else {},
            rejected_by=caller.actor,
            decision_note=note,
            next_action_at=None,
            settled_at=now,
        )
        return Decided(rejected, "refund.rejected", {"note": note})

    return await decide(uow_factory, caller, refund_id, reject, now=now, request_id=request_id)


async def confirm_refund(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    """An operator confirms that the outgoing transfer of a ``submitted`` (VietQR) refund was
    made. Confirming twice is harmless."""
    require_officer(caller, Role.FINANCE, Role.ADMIN)

    async def confirm(uow: RefundWork, refund: Refund) -> Decided:
        confirmed = await _confirm(uow, refund, actor=caller.actor, cause="api.confirm",
                                   detail={"note": note} if note else {}, now=now)  # fmt: skip
        if confirmed is refund:
            return Decided(refund)
        return Decided(confirmed, "refund.confirmed", {"note": note})

    return await decide(uow_factory, caller, refund_id, confirm, now=now, request_id=request_id)


async def fail_refund_transfer(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    """An operator reports that the outgoing transfer of a ``submitted`` (VietQR) refund could
    not be made (refused, returned by the payer's bank): the refund fails, its booking is
    reversed and its amount is available again. Saying it twice is harmless."""
    require_officer(caller, Role.FINANCE, Role.ADMIN)
    if not note or not note.strip():
        raise InvalidInput([FieldProblem("note", "say why the transfer failed")])

    async def fail(uow: RefundWork, refund: Refund) -> Decided:
        if refund.status is RefundStatus.FAILED:
            return Decided(refund)
        if refund.status is not RefundStatus.SUBMITTED:
            raise InvalidTransition(refund.id, refund.status.value, RefundStatus.FAILED.value)
        failed = await move_refund(
            uow,
            refund,
            RefundStatus.FAILED,
            cause="api.transfer_failed",
            actor=caller.actor,
            now=now,
            detail={"note": note},
            provider_message=note,
            settled_at=now,
            next_action_at=None,
        )
        await unbook(uow, failed, now)
        return Decided(failed, "refund.transfer_failed", {"note": note})

    return await decide(uow_factory, caller, refund_id, fail, now=now, request_id=request_id)


async def confirm_refund_transfer(
    uow_factory: RefundWorkFactory,
    refund_id: str,
    *,
    actor: str,
    bank_reference: str | None,
    now: datetime,
) -> Refund:
    """For the statement reconciliation: the bank shows the transfer of a submitted refund
    (its request id in the description), so it succeeded."""
    async with uow_factory() as uow:
        refund = await uow.refunds.get(refund_id, lock=True)
        if refund is None:
            raise NotFound(f"no refund {refund_id}")
        detail = {"bank_reference": bank_reference} if bank_reference else {}
        confirmed = await _confirm(
            uow, refund, actor=actor, cause="reconciliation", detail=detail, now=now
        )
        if confirmed is not refund:
            await uow.audit.record(
                AuditEntry(
                    action="refund.confirmed",
                    actor=actor,
                    occurred_at=now,
                    agency_id=refund.agency_id,
                    target_type="refund",
                    target_id=refund.id,
                    detail=detail,
                )
            )
            await uow.commit()
    return confirmed


async def _confirm(
    uow: RefundWork,
    refund: Refund,
    *,
    actor: str,
    cause: str,
    detail: dict[str, Any],
    now: datetime,
) -> Refund:
    if refund.status is RefundStatus.SUCCEEDED:
        return refund
    if refund.status is not RefundStatus.SUBMITTED:
        raise InvalidTransition(refund.id, refund.status.value, RefundStatus.SUCCEEDED.value)
    confirmed = await move_refund(
        uow,
        refund,
        RefundStatus.SUCCEEDED,
        cause=cause,
        actor=actor,
        now=now,
        detail=detail,
        settled_at=now,
        next_action_at=None,
    )
    await pay(uow, confirmed, now)
    return confirmed


async def get_refund(uow_factory: RefundWorkFactory, caller: Caller, refund_id: str) -> Refund:
    async with uow_factory() as uow:
        return await visible_refund(uow, caller, refund_id)


async def refund_events(
    uow_factory: RefundWorkFactory, caller: Caller, refund_id: str
) -> Sequence[RefundEvent]:
    async with uow_factory() as uow:
        await visible_refund(uow, caller, refund_id)
        return await uow.refunds.events(refund_id)


async def list_refunds(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    flt: RefundFilter,
    *,
    before_id: str | None,
    limit: int,
) -> tuple[Sequence[Refund], bool]:
    """One page, newest first, and whether more pages follow."""
    async with uow_factory() as uow:
        return await one_page(
            lambda n: uow.refunds.page(caller.agency_id, flt, before_id=before_id, limit=n), limit
        )


async def payment_refunds(
    uow_factory: RefundWorkFactory, caller: Caller, payment_id: str
) -> PaymentRefunds:
    """A payment's refunds and what they add up to: refunded, in flight, available."""
    async with uow_factory() as uow:
        payment = await uow.payments.get(caller.agency_id, payment_id)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        refunds = await uow.refunds.for_payment(payment.id)
    return PaymentRefunds(payment, totals(payment, refunds), refunds)


async def refund_candidates(
    uow_factory: RefundWorkFactory, caller: Caller, *, before_id: str | None, limit: int
) -> tuple[Sequence[PaymentRefunds], bool]:
    """Paid payments flagged late, for review or overpaid: what finance may have to give
    back. Newest first, with each one's refund summary."""
    async with uow_factory() as uow:
        rows, more = await one_page(
            lambda n: uow.refunds.candidates(caller.agency_id, before_id=before_id, limit=n), limit
        )
        found = [
            PaymentRefunds(p, totals(p, refunds), refunds)
            for p in rows
            for refunds in [await uow.refunds.for_payment(p.id)]
        ]
    return found, more
