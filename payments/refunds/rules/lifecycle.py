"""Refunds: statuses, the transition table, what is still refundable, the four-eyes rule.

A refund gives back (part of) what a payment captured. Its life:

    awaiting_approval -> approved | rejected          (a second finance officer decides)
    approved          -> processing                   (claimed for the provider call)
    processing        -> succeeded | failed | pending | unknown | submitted (VietQR)
    pending, unknown  -> asked about on a ladder: succeeded | failed | pending | unknown,
                         or processing again when the provider never got it (same id)
    submitted         -> succeeded                    (an operator or the reconciliation)

- ``approved`` is booked (the ledger moves the amount from budget payable to refunds payable)
  and due to be sent; ``processing`` is claimed by one process for the provider call, with a
  lease: a process that dies mid-call leaves it due again, and the next one first asks the
  provider (``refund_status``) before sending again with the same request id.
- ``pending`` (the provider said "later") and ``unknown`` (no usable answer) are asked about
  on a ladder; an unknown answer never overwrites a known one.
- ``submitted`` (VietQR) waits for a person: an operator or the reconciliation confirms the
  outgoing transfer.
- ``awaiting_approval`` waits for a second finance officer. It reserves its amount.

Every refund that is not terminal counts as in flight, so available = captured - succeeded
- in flight can never go below zero, whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from payments.domain.attempts import Attempt, AttemptStatus
from payments.domain.errors import Conflict, InvalidTransition, NotPermitted
from payments.domain.ids import new_ulid
from payments.domain.payments import Payment, PaymentStatus


class RefundStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    PROCESSING = "processing"
    PENDING = "pending"
    UNKNOWN = "unknown"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"


R = RefundStatus

TERMINAL = frozenset({R.SUCCEEDED, R.FAILED, R.REJECTED})
IN_FLIGHT = frozenset(set(R) - TERMINAL)
# Statuses whose amount the ledger has moved to refunds payable (and not yet paid out).
BOOKED = frozenset({R.APPROVED, R.PROCESSING, R.PENDING, R.UNKNOWN, R.SUBMITTED})
# Statuses a background run acts on when ``next_action_at`` is due.
SCHEDULED = frozenset({R.APPROVED, R.PROCESSING, R.PENDING, R.UNKNOWN})
# Statuses that wait for a person rather than a schedule.
WAITING_FOR_PEOPLE = frozenset({R.AWAITING_APPROVAL, R.SUBMITTED})

TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = {
    R.AWAITING_APPROVAL: frozenset({R.APPROVED, R.REJECTED}),
    R.APPROVED: frozenset({R.PROCESSING}),
    R.PROCESSING: frozenset(
        {R.PROCESSING, R.SUCCEEDED, R.FAILED, R.PENDING, R.UNKNOWN, R.SUBMITTED}
    ),
    R.PENDING: frozenset({R.PROCESSING, R.PENDING, R.SUCCEEDED, R.FAILED, R.UNKNOWN}),
    R.UNKNOWN: frozenset({R.PROCESSING, R.PENDING, R.SUCCEEDED, R.FAILED, R.UNKNOWN}),
    R.SUBMITTED: frozenset({R.SUCCEEDED, R.FAILED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
    R.REJECTED: frozenset(),
}

# How long a process owns a refund it is sending or asking about; past it, another process
# takes the refund over (asking the provider first: the call may have reached it).
LEASE = timedelta(minutes=2)
# Ask about a pending or unknown refund after 1 min, 5 min, 30 min, 2 h, 6 h and 24 h. A refund
# with no certain answer by then is raised to people (``escalated_at``) and still asked about
# daily, until the provider answers or two finance officers settle it by hand.
CHECK_LADDER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)
CHECK_DAILY = timedelta(days=1)
# Statuses in which the provider may hold the refund: it was sent, and no final answer came.
AT_PROVIDER = frozenset({R.PROCESSING, R.PENDING, R.UNKNOWN})
# Statuses that two finance officers may settle by hand (with the provider's word for it).
RESOLVABLE = frozenset({R.PENDING, R.UNKNOWN})
# How long a refund waits for a sibling still at a provider that cannot tell them apart.
QUEUE_WAIT = timedelta(minutes=1)


def next_check_at(now: datetime, checks_so_far: int) -> datetime:
    if checks_so_far < len(CHECK_LADDER):
        return now + CHECK_LADDER[checks_so_far]
    return now + CHECK_DAILY


def ladder_done(checks_so_far: int) -> bool:
    """Every step of the ladder was asked without a certain answer: time for people."""
    return checks_so_far >= len(CHECK_LADDER)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def queued_behind(refund: Refund, siblings: Iterable[Refund], now: datetime) -> datetime | None:
    """When an approved refund may first be sent, at a provider whose status query finds a
    refund only by its payment and its create second (VNPay ``querydr``), or None: now.

    Two refunds of one payment that are at such a provider together, or that were created in
    the same second, cannot be told apart by the query, and an answer about one would settle
    the other. So such a refund waits while a sibling of the same attempt is at the provider,
    and never takes a create second a sibling already has: every query answer is then about
    exactly one refund."""
    wait: datetime | None = None
    for other in siblings:
        if other.id == refund.id or other.attempt_id != refund.attempt_id:
            continue
        if other.status in AT_PROVIDER:
            wait = max(wait or now, now + QUEUE_WAIT)
        elif other.provider_requested_at is not None and _second(
            other.provider_requested_at
        ) == _second(now):
            wait = max(wait or now, _second(now) + timedelta(seconds=1))
    return wait


def check_refund_transition(refund_id: str, current: RefundStatus, wanted: RefundStatus) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(refund_id, current.value, wanted.value)


def new_refund_id(now: datetime) -> str:
    return "rfd_" + new_ulid(now)


class RefundExceedsAvailable(Conflict):
    title = "Refund exceeds the available amount"

    def __init__(self, payment_id: str, amount: int, available: int) -> None:
        super().__init__(
            f"payment {payment_id} has {available} available to refund; {amount} asked"
        )
        self.available = available


class ResolutionOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Resolution:
    """What a finance officer says the provider did with a refund it would not answer for
    certain (from the provider's portal, its statement or its support desk). It takes effect
    only once a second officer confirms it."""

    outcome: ResolutionOutcome
    provider_refund_id: str | None  # the provider's refund number; required for ``succeeded``
    note: str
    proposed_by: str
    proposed_at: datetime


@dataclass(frozen=True)
class Refund:
    id: str
    payment_id: str
    agency_id: int
    attempt_id: str
    provider: str
    amount: int  # minor units
    currency: str
    # What the attempt captured (VietQR: with what came in beyond the amount), the ceiling
    # the provider refunds against; fixed at request so every retry sends the same request.
    captured_amount: int
    full: bool  # the whole captured amount of the attempt, and nothing refunded before
    # The part that refunds money taken beyond the amount (already owed back to the payer in
    # the ledger); the rest comes out of the budget payable.
    from_excess: int
    reason: str
    status: RefundStatus
    requested_by: str
    request_id: str  # the provider request id: stable, the same refund on every retry
    created_at: datetime
    updated_at: datetime
    approved_by: str | None = None
    rejected_by: str | None = None
    decision_note: str | None = None
    provider_requested_at: datetime | None = None  # first sent; stable across retries
    provider_code: str | None = None
    provider_message: str | None = None
    provider_refund_id: str | None = None
    transfer_instruction: Mapping[str, Any] | None = None
    checks: int = 0  # status queries so far (the ladder's position)
    next_action_at: datetime | None = None
    settled_at: datetime | None = None
    escalated_at: datetime | None = None  # raised to people: no certain answer by ladder's end
    resolution: Resolution | None = None  # a settlement by hand, waiting for a second officer

    @property
    def from_budget(self) -> int:
        return self.amount - self.from_excess

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class RefundEvent:
    refund_id: str
    payment_id: str
    from_status: str | None
    to_status: str
    cause: str
    actor: str
    occurred_at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class RefundTotals:
    currency: str
    captured: int
    refunded: int  # succeeded
    in_flight: int  # every refund not terminal, awaiting approval included

    @property
    def available(self) -> int:
        return self.captured - self.refunded - self.in_flight


def captured_amount(payment: Payment) -> int:
    """What the payment took from the payer: nothing unless it succeeded; with a VietQR
    overpayment or a second capture, everything received."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        return 0
    return max(payment.flags.received_amount, payment.draft.amount)


def totals(payment: Payment, refunds: Iterable[Refund]) -> RefundTotals:
    refunded = in_flight = 0
    for refund in refunds:
        if refund.status is R.SUCCEEDED:
            refunded += refund.amount
        elif refund.status in IN_FLIGHT:
            in_flight += refund.amount
    return RefundTotals(payment.draft.currency, captured_amount(payment), refunded, in_flight)


def live(refund: Refund) -> bool:
    """Still holds its amount: succeeded or in flight (a failed or rejected one holds none)."""
    return refund.status not in (R.FAILED, R.REJECTED)


def excess_left(payment: Payment, refunds: Iterable[Refund]) -> int:
    """Money taken beyond the amount that no live refund has claimed yet."""
    claimed = sum(r.from_excess for r in refunds if live(r))
    return max(0, payment.flags.overpaid_amount - claimed)


@dataclass(frozen=True)
class RefundSource:
    attempt: Attempt
    captured: int  # what this attempt took
    full: bool


def choose_source(
    payment: Payment, attempts: Sequence[Attempt], refunds: Sequence[Refund], amount: int
) -> RefundSource:
    """The attempt that gives the money back. Money taken twice (a second capture) is
    refunded through the attempt that took it; the rest through the succeeded attempt, which
    also carries what came in beyond the amount by bank transfer."""
    duplicates = [a for a in attempts if a.status is AttemptStatus.DUPLICATE_CAPTURE]
    succeeded = [a for a in attempts if a.status is AttemptStatus.SUCCEEDED]
    captured = {a.id: a.amount for a in duplicates}
    for attempt in succeeded:
        captured[attempt.id] = captured_amount(payment) - sum(a.amount for a in duplicates)
    largest = 0
    for attempt in [*duplicates, *succeeded]:
        held = sum(r.amount for r in refunds if r.attempt_id == attempt.id and live(r))
        left = captured[attempt.id] - held
        if amount <= left:
            full = held == 0 and amount == captured[attempt.id]
            return RefundSource(attempt, captured[attempt.id], full)
        largest = max(largest, left)
    raise Conflict(
        f"one refund goes back through one payment attempt; at most {largest} can be "
        "refunded in one refund now: split it"
    )


def needs_approval(amount: int, threshold: int) -> bool:
    """Four eyes above the threshold (a threshold of 0 makes every refund wait)."""
    return amount > threshold


def check_four_eyes(refund: Refund, approver: str) -> None:
    if approver == refund.requested_by:
        raise NotPermitted(
            f"{approver} requested refund {refund.id}; another finance officer must approve it"
        )


def scheduled_or_waiting(refund: Refund) -> bool:
    """The invariant every stored refund keeps: terminal, or visibly in flight with a next
    action (a due time for the background run, or a person it waits for)."""
    if refund.status in TERMINAL:
        return refund.next_action_at is None
    if refund.status in WAITING_FOR_PEOPLE:
        return True
    if refund.resolution is not None and refund.status not in RESOLVABLE:
        return False  # a proposal outlives no refund it could settle
    return refund.next_action_at is not None


def raised_to_people(refund: Refund) -> bool:
    """In flight past the ladder: shown to finance officers to settle by hand."""
    return refund.escalated_at is not None and refund.status not in TERMINAL
