"""Sending approved refunds to their provider and settling the ones whose answer is open.

No database transaction is open during a provider call. Each refund goes through three
short steps:

1. claim (one transaction): an ``approved`` refund becomes ``processing`` with a lease
   (``next_action_at`` = now + LEASE) and its ``provider_requested_at`` fixed; a pending,
   unknown or lapsed ``processing`` one just has its next action pushed out. Commit.
2. call the provider with the refund's stable request id: ``refund`` for a new one;
   ``refund_status`` for one already sent, and only when the provider has no record of it
   (``RefundNotFound``) ``refund`` again, with the same id: it can never become a second
   refund.
3. record the answer (one transaction, the refund row locked): terminal refunds ignore late
   or repeated answers; an unknown answer never overwrites a known one.

A process that dies between 1 and 3 leaves the refund ``processing`` with a lapsing lease; the
next run treats it like an unknown one: it asks first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from payments.domain.attempts import Provider
from payments.domain.errors import NotFound
from payments.domain.refunds import (
    LEASE,
    TERMINAL,
    Refund,
    RefundStatus,
    next_check_at,
)
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundOutcome,
    RefundPending,
    RefundRequest,
    RefundSubmitted,
    RefundSucceeded,
    RefundUnknown,
)
from payments.services.ports import UnitOfWork, UnitOfWorkFactory
from payments.services.refund_ledger import pay, unbook
from payments.services.refund_ports import RefundProviders
from payments.services.refund_transitions import move_refund

R = RefundStatus
Mode = Literal["send", "check"]


@dataclass(frozen=True)
class Claimed:
    refund: Refund
    request: RefundRequest
    mode: Mode


@dataclass(frozen=True)
class RefundRun:
    sent: int  # refunds sent for the first time
    checked: int  # status queries (and re-sends after "not found")
    settled: int  # reached a terminal status or submitted in this run


async def execute_refund(
    uow_factory: UnitOfWorkFactory, providers: RefundProviders, refund_id: str, *, now: datetime
) -> Refund:
    """Send an approved refund now (right after it was asked for or approved, so the officer
    sees a result). Anything else (not approved, not due, taken by another process) is
    returned as it stands: the background run owns it."""
    async with uow_factory() as uow:
        refund = await uow.refunds.get(refund_id, lock=True)
        if refund is None:
            raise NotFound(f"no refund {refund_id}")
        due = refund.next_action_at is not None and refund.next_action_at <= now
        if refund.status is not R.APPROVED or not due:
            return refund
        claimed = await _claim(uow, refund, now)
        await uow.commit()
    return await _carry_out(uow_factory, providers, claimed, now)


async def process_due_refunds(
    uow_factory: UnitOfWorkFactory,
    providers: RefundProviders,
    *,
    now: datetime,
    limit: int = 50,
) -> RefundRun:
    """The periodic job: send approved refunds not yet sent, ask about pending, unknown and
    stalled ones on their schedule. Safe in several processes at once (SKIP LOCKED claims,
    then leases)."""
    async with uow_factory() as uow:
        due = await uow.refunds.claim_due(now, limit)
        jobs = [await _claim(uow, refund, now) for refund in due]
        await uow.commit()
    settled = 0
    failure: Exception | None = None
    for job in jobs:
        # One refund's unexpected error must not strand the others this run has claimed;
        # it is raised once they all had their turn (its refund is retried after the lease).
        try:
            done = await _carry_out(uow_factory, providers, job, now)
        except Exception as exc:
            failure = failure or exc
            continue
        settled += done.status in TERMINAL or done.status is R.SUBMITTED
    if failure is not None:
        raise failure
    sent = sum(job.mode == "send" for job in jobs)
    return RefundRun(sent=sent, checked=len(jobs) - sent, settled=settled)


async def _claim(uow: UnitOfWork, refund: Refund, now: datetime) -> Claimed:
    attempt = await uow.attempts.get(refund.attempt_id)
    if attempt is None:  # pragma: no cover - attempts are never deleted
        raise NotFound(f"refund {refund.id} lost its attempt")
    if refund.status is R.APPROVED:
        claimed = await move_refund(
            uow,
            refund,
            R.PROCESSING,
            cause="send",
            actor="system",
            now=now,
            next_action_at=now + LEASE,
            provider_requested_at=refund.provider_requested_at or now,
        )
        mode: Mode = "send"
    else:
        claimed = replace(refund, next_action_at=now + LEASE, checks=refund.checks + 1)
        await uow.refunds.update(claimed)
        mode = "check"
    requested_at = claimed.provider_requested_at or now
    request = RefundRequest(
        # The provider refunds against what this attempt captured (with a VietQR
        # overpayment, more than it asked for).
        attempt=replace(attempt, amount=claimed.captured_amount),
        amount=claimed.amount,
        full=claimed.full,
        request_id=claimed.request_id,
        reason=claimed.reason,
        actor=claimed.requested_by,
        requested_at=requested_at,
    )
    return Claimed(claimed, request, mode)


async def _carry_out(
    uow_factory: UnitOfWorkFactory, providers: RefundProviders, job: Claimed, now: datetime
) -> Refund:
    provider = providers.get(Provider(job.refund.provider))
    outcome: RefundOutcome
    if provider is None:
        outcome = RefundUnknown(f"provider {job.refund.provider} is not configured")
    elif job.mode == "send":
        outcome = await provider.refund(job.request, now=now)
    else:
        status = await provider.refund_status(job.request, now=now)
        if isinstance(status, RefundNotFound):
            # The provider never got it: sending it again with the same id is safe.
            outcome = await provider.refund(job.request, now=now)
        else:
            outcome = status
    return await record_outcome(uow_factory, job.refund.id, outcome, now=now)


async def record_outcome(
    uow_factory: UnitOfWorkFactory, refund_id: str, outcome: RefundOutcome, *, now: datetime
) -> Refund:
    """Apply what the provider said. Safe to call again with the same or a late answer."""
    async with uow_factory() as uow:
        refund = await uow.refunds.get(refund_id, lock=True)
        if refund is None:
            raise NotFound(f"no refund {refund_id}")
        if refund.status in TERMINAL or refund.status in (R.AWAITING_APPROVAL, R.APPROVED):
            return refund  # settled already, or not sent: a stray answer changes nothing
        updated = await apply_outcome(uow, refund, outcome, now=now)
        await uow.commit()
    return updated


async def apply_outcome(
    uow: UnitOfWork, refund: Refund, outcome: RefundOutcome, *, now: datetime
) -> Refund:
    cause = f"provider.{refund.provider}"
    match outcome:
        case RefundSucceeded():
            done = await move_refund(
                uow, refund, R.SUCCEEDED, cause=cause, actor="provider", now=now,
                detail={"code": outcome.code, "provider_refund_id": outcome.provider_refund_id},
                provider_code=outcome.code, provider_refund_id=outcome.provider_refund_id or None,
                next_action_at=None, settled_at=now,
            )  # fmt: skip
            await pay(uow, done, now)
            return done
        case RefundFailed():
            if refund.status is R.SUBMITTED:
                return refund  # only a person settles a transfer instruction
            done = await move_refund(
                uow, refund, R.FAILED, cause=cause, actor="provider", now=now,
                detail={"code": outcome.code, "message": outcome.message},
                provider_code=outcome.code, provider_message=outcome.message,
                next_action_at=None, settled_at=now,
            )  # fmt: skip
            await unbook(uow, done, now)
            return done
        case RefundPending():
            return await move_refund(
                uow, refund, R.PENDING, cause=cause, actor="provider", now=now,
                detail={"code": outcome.code, "message": outcome.message},
                provider_code=outcome.code, provider_message=outcome.message,
                next_action_at=next_check_at(now, refund.checks),
            )  # fmt: skip
        case RefundUnknown():
            # An unknown answer never overwrites a known one: pending stays pending.
            keep = refund.status in (R.PENDING, R.SUBMITTED)
            return await move_refund(
                uow, refund, refund.status if keep else R.UNKNOWN, cause=cause,
                actor="provider", now=now, detail={"reason": outcome.reason},
                provider_message=refund.provider_message if keep else outcome.reason,
                next_action_at=None if refund.status is R.SUBMITTED
                else next_check_at(now, refund.checks),
            )  # fmt: skip
        case RefundSubmitted():
            if refund.status is R.SUBMITTED:
                return refund
            i = outcome.instruction
            instruction = {
                "from_bank_bin": i.from_bank_bin,
                "from_account_no": i.from_account_no,
                "amount": i.amount,
                "reference": i.reference,
                "description": i.description,
                "original_transfer_id": i.original_transfer_id,
            }
            return await move_refund(
                uow, refund, R.SUBMITTED, cause=cause, actor="provider", now=now,
                detail={"instruction": instruction}, transfer_instruction=instruction,
                next_action_at=None,
            )  # fmt: skip
