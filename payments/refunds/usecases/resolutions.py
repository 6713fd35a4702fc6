"""Settling by hand, with four eyes, a refund the provider would not answer for certain.

One finance officer proposes what the provider did (``succeeded`` with its refund number, or
``failed``); a second confirms, and only then the refund moves and the ledger follows: paid
out, or the booking reversed so the amount is the budget's again. Each step is one transaction
on the locked refund row, recorded in the refund's history and in the audit log. Rules:
``domain.refund_resolutions``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from payments.domain.access import Caller
from payments.domain.errors import Conflict
from payments.refunds.ports import RefundWork, RefundWorkFactory
from payments.refunds.rules.lifecycle import (
    Refund,
    RefundStatus,
    Resolution,
    ResolutionOutcome,
)
from payments.refunds.rules.resolutions import check_decision, check_proposal
from payments.refunds.usecases.decisions import Decided, decide, require_officer
from payments.refunds.usecases.ledger import pay, unbook
from payments.refunds.usecases.transitions import move_refund, record_step


async def propose_resolution(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    outcome: ResolutionOutcome,
    provider_refund_id: str | None,
    note: str,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    require_officer(caller)
    reference = (provider_refund_id or "").strip() or None

    async def propose(uow: RefundWork, refund: Refund) -> Decided:
        check_proposal(refund, outcome, reference, note)
        if reference is not None:
            await _reference_is_free(uow, refund, reference)
        resolution = Resolution(outcome, reference, note.strip(), caller.actor, now)
        proposed = replace(refund, resolution=resolution, updated_at=now)
        await uow.refunds.update(proposed)
        detail = {"outcome": outcome.value, "provider_refund_id": reference, "note": note}
        await record_step(
            uow, refund, cause="api.resolution_proposed", actor=caller.actor, now=now,
            detail=detail,
        )  # fmt: skip
        return Decided(proposed, "refund.resolution_proposed", detail)

    return await decide(uow_factory, caller, refund_id, propose, now=now, request_id=request_id)


async def confirm_resolution(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    require_officer(caller)

    async def confirm(uow: RefundWork, refund: Refund) -> Decided:
        resolution = check_decision(refund, caller.actor)
        if resolution.provider_refund_id is not None:
            await _reference_is_free(uow, refund, resolution.provider_refund_id)
        detail = {
            "proposed_by": resolution.proposed_by,
            "provider_refund_id": resolution.provider_refund_id,
            "note": resolution.note,
            **({"confirm_note": note} if note else {}),
        }
        succeeded = resolution.outcome is ResolutionOutcome.SUCCEEDED
        # A failed refund keeps whatever provider number it had (a failed proposal names none).
        done = await move_refund(
            uow, refund, RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED,
            cause="api.resolution_confirmed", actor=caller.actor, now=now, detail=detail,
            provider_refund_id=resolution.provider_refund_id or refund.provider_refund_id,
            provider_message=f"settled by hand: {resolution.note}",
            next_action_at=None, settled_at=now, resolution=None,
        )  # fmt: skip
        # Paid out, or the booking reversed so the amount is the budget's again.
        await (pay if succeeded else unbook)(uow, done, now)
        audited = {"outcome": resolution.outcome.value, **detail}
        return Decided(done, "refund.resolution_confirmed", audited)

    return await decide(uow_factory, caller, refund_id, confirm, now=now, request_id=request_id)


async def decline_resolution(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
    request_id: str | None = None,
) -> Refund:
    require_officer(caller)

    async def decline(uow: RefundWork, refund: Refund) -> Decided:
        resolution = check_decision(refund, caller.actor)
        declined = replace(refund, resolution=None, updated_at=now)
        await uow.refunds.update(declined)
        detail = {
            "outcome": resolution.outcome.value,
            "proposed_by": resolution.proposed_by,
            "note": note or "",
        }
        await record_step(
            uow, refund, cause="api.resolution_declined", actor=caller.actor, now=now,
            detail=detail,
        )  # fmt: skip
        return Decided(declined, "refund.resolution_declined", detail)

    return await decide(uow_factory, caller, refund_id, decline, now=now, request_id=request_id)


async def _reference_is_free(uow: RefundWork, refund: Refund, reference: str) -> None:
    holder = await uow.refunds.by_provider_refund_id(refund.provider, reference)
    if holder is not None and holder.id != refund.id:
        raise Conflict(
            f"the provider's refund {reference} is already refund {holder.id}'s; "
            "one provider refund settles one refund"
        )
