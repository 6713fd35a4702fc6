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
from payments.domain.events import AuditEntry
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
from payments.refunds.ports import RefundProviders, RefundWork, RefundWorkFactory
from payments.refunds.rules.lifecycle import (
    LEASE,
    TERMINAL,
    Refund,
    RefundStatus,
    ladder_done,
    next_check_at,
    queued_behind,
)
from payments.refunds.usecases.ledger import pay, unbook
from payments.refunds.usecases.transitions import move_refund, record_step

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
    uow_factory: RefundWorkFactory, providers: RefundProviders, refund_id: str, *, now: datetime
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
        claimed = await _claim(uow, providers, refund, now)
        await uow.commit()
    if isinstance(claimed, Refund):  # queued behind a sibling refund of the same payment
        return claimed
    return await _carry_out(uow_factory, providers, claimed, now)


async def process_due_refunds(
    uow_factory: RefundWorkFactory,
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
        # Claims lock payment rows (see _queued_until): always in one order, so two
        # processes claiming refunds of the same payments never wait on each other in a cycle.
        ordered = sorted(due, key=lambda refund: refund.payment_id)
        claims = [await _claim(uow, providers, refund, now) for refund in ordered]
        await uow.commit()
    jobs = [job for job in claims if isinstance(job, Claimed)]
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


async def _queued_until(
    uow: RefundWork, providers: RefundProviders, refund: Refund, now: datetime
) -> datetime | None:
    """When a refund about to be sent first must wait for a sibling (see
    ``domain.refunds.queued_behind``), at a provider whose query cannot tell them apart."""
    provider = providers.get(Provider(refund.provider))
    if provider is None or provider.refunds_told_apart:
        return None
    # The payment row serialises the claims of its refunds: two processes that claimed two
    # siblings each see the other's claim, never both send.
    await uow.payments.by_id(refund.payment_id, lock=True)
    return queued_behind(refund, await uow.refunds.for_payment(refund.payment_id), now)


async def _claim(
    uow: RefundWork, providers: RefundProviders, refund: Refund, now: datetime
) -> Claimed | Refund:
    """Take a due refund for this process, or, when it must wait for a sibling, return it
    rescheduled."""
    attempt = await uow.attempts.get(refund.attempt_id)
    if attempt is None:  # pragma: no cover - attempts are never deleted
        raise NotFound(f"refund {refund.id} lost its attempt")
    if refund.status is R.APPROVED:
        wait = await _queued_until(uow, providers, refund, now)
        if wait is not None:
            queued = replace(refund, next_action_at=wait, updated_at=now)
            await uow.refunds.update(queued)
            return queued
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
    uow_factory: RefundWorkFactory, providers: RefundProviders, job: Claimed, now: datetime
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
    uow_factory: RefundWorkFactory, refund_id: str, outcome: RefundOutcome, *, now: datetime
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
    uow: RefundWork, refund: Refund, outcome: RefundOutcome, *, now: datetime
) -> Refund:
    cause = f"provider.{refund.provider}"
    outcome = await _not_a_sibling_answer(uow, refund, outcome)
    # A provider answer that settles the refund makes a proposal to settle it by hand moot.
    moot = {"proposal_dropped": refund.resolution.outcome.value} if refund.resolution else {}
    match outcome:
        case RefundSucceeded():
            done = await move_refund(
                uow, refund, R.SUCCEEDED, cause=cause, actor="provider", now=now,
                detail={"code": outcome.code, "provider_refund_id": outcome.provider_refund_id,
                        **moot},
                provider_code=outcome.code, provider_refund_id=outcome.provider_refund_id or None,
                next_action_at=None, settled_at=now, resolution=None,
            )  # fmt: skip
            await pay(uow, done, now)
            return done
        case RefundFailed():
            if refund.status is R.SUBMITTED:
                return refund  # only a person settles a transfer instruction
            done = await move_refund(
                uow, refund, R.FAILED, cause=cause, actor="provider", now=now,
                detail={"code": outcome.code, "message": outcome.message, **moot},
                provider_code=outcome.code, provider_message=outcome.message,
                next_action_at=None, settled_at=now, resolution=None,
            )  # fmt: skip
            await unbook(uow, done, now)
            return done
        case RefundPending():
            pending = await move_refund(
                uow, refund, R.PENDING, cause=cause, actor="provider", now=now,
                detail={"code": outcome.code, "message": outcome.message},
                provider_code=outcome.code, provider_message=outcome.message,
                next_action_at=next_check_at(now, refund.checks),
            )  # fmt: skip
            return await escalate_at_ladder_end(uow, pending, now)
        case RefundUnknown():
            # An unknown answer never overwrites a known one: pending stays pending.
            keep = refund.status in (R.PENDING, R.SUBMITTED)
            unknown = await move_refund(
                uow, refund, refund.status if keep else R.UNKNOWN, cause=cause,
                actor="provider", now=now, detail={"reason": outcome.reason},
                provider_message=refund.provider_message if keep else outcome.reason,
                next_action_at=None if refund.status is R.SUBMITTED
                else next_check_at(now, refund.checks),
            )  # fmt: skip
            if unknown.status is R.SUBMITTED:
                return unknown
            return await escalate_at_ladder_end(uow, unknown, now)
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


async def _not_a_sibling_answer(
    uow: RefundWork, refund: Refund, outcome: RefundOutcome
) -> RefundOutcome:
    """A success naming a provider refund number that another refund already holds is about
    that refund, not this one: it is no answer, and this refund stays in doubt."""
    if not isinstance(outcome, RefundSucceeded) or not outcome.provider_refund_id:
        return outcome
    holder = await uow.refunds.by_provider_refund_id(refund.provider, outcome.provider_refund_id)
    if holder is None or holder.id == refund.id:
        return outcome
    return RefundUnknown(
        f"the provider's refund {outcome.provider_refund_id} is refund {holder.id}'s; "
        "the answer is not about this refund"
    )


async def escalate_at_ladder_end(uow: RefundWork, refund: Refund, now: datetime) -> Refund:
    """Raise a refund to people once the whole ladder was asked without a certain answer. It
    is still asked about daily; two finance officers may settle it by hand."""
    if refund.escalated_at is not None or not ladder_done(refund.checks):
        return refund
    raised = replace(refund, escalated_at=now, updated_at=now)
    await uow.refunds.update(raised)
    detail = {"checks": refund.checks, "provider_message": refund.provider_message or ""}
    await record_step(uow, refund, cause="escalated", actor="system", now=now, detail=detail)
    await uow.audit.record(
        AuditEntry(
            action="refund.escalated",
            actor="system",
            occurred_at=now,
            agency_id=refund.agency_id,
            target_type="refund",
            target_id=refund.id,
            detail={"payment_id": refund.payment_id, **detail},
        )
    )
    return raised
