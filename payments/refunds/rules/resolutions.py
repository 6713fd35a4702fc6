"""Settling a refund by hand: the rules for what two finance officers may say a provider did.

A refund the provider would not answer for certain (``unknown``, or ``pending`` for ever) is
raised to people at the end of the check ladder. One finance officer proposes what the provider
did, from its portal, its statement or its support desk: ``succeeded`` with the provider's own
refund number, or ``failed``. A second officer confirms it (four eyes), and only then does the
refund move and its booking follow. A proposal can be declined by anyone but its proposer, and
a provider answer that settles the refund first makes the proposal moot.
"""

from __future__ import annotations

from payments.domain.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
)
from payments.refunds.rules.lifecycle import RESOLVABLE, Refund, Resolution, ResolutionOutcome

MAX_REFERENCE = 64
MAX_NOTE = 2000


def check_proposal(
    refund: Refund, outcome: ResolutionOutcome, provider_refund_id: str | None, note: str
) -> None:
    problems = []
    if not note.strip():
        problems.append(FieldProblem("note", "say how you know what the provider did"))
    elif len(note) > MAX_NOTE:
        problems.append(FieldProblem("note", f"at most {MAX_NOTE} characters"))
    reference = (provider_refund_id or "").strip()
    if outcome is ResolutionOutcome.SUCCEEDED and not reference:
        problems.append(
            FieldProblem("provider_refund_id", "the provider's refund number is required")
        )
    if outcome is ResolutionOutcome.FAILED and reference:
        problems.append(
            FieldProblem("provider_refund_id", "a failed refund has no provider refund number")
        )
    if len(reference) > MAX_REFERENCE:
        problems.append(FieldProblem("provider_refund_id", f"at most {MAX_REFERENCE} characters"))
    if problems:
        raise InvalidInput(problems)
    if refund.status not in RESOLVABLE:
        raise InvalidTransition(refund.id, refund.status.value, outcome.value)
    if refund.resolution is not None:
        raise Conflict(
            f"refund {refund.id} already has a settlement proposed by "
            f"{refund.resolution.proposed_by}: confirm or decline it first"
        )


def check_decision(refund: Refund, officer: str) -> Resolution:
    """The proposal a second officer confirms or declines; its proposer may do neither."""
    if refund.resolution is None:
        raise Conflict(f"refund {refund.id} has no settlement proposed")
    if officer == refund.resolution.proposed_by:
        raise NotPermitted(
            f"{officer} proposed the settlement of refund {refund.id}; another finance "
            "officer must confirm or decline it"
        )
    return refund.resolution
