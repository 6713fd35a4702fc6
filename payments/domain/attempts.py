"""Payment attempts, and the rules for applying what a provider says about one.

A payment has one attempt per provider try; at most one attempt can succeed. Providers talk
about attempts (VNPay's ``vnp_TxnRef``, MoMo's ``orderId``, the VietQR reference all name an
attempt), and ``decide`` turns "the provider says X about attempt A of payment P" into what
changes. It is pure: the service loads the state, asks, and stores the answer.

Rules (issue 4, item 4; ARCHITECTURE.md section 3):
- a message whose amount, currency or merchant differs from the attempt is refused;
- ``pending`` is what the provider said ("later"), or a started attempt it has not talked
  about yet; ``unknown`` is a question it left unanswered (timeout, 5xx, an answer we cannot
  use) while it had told us nothing: only a provider's own answer replaces ``unknown``, and an
  unanswered question never overwrites what the provider said (``after_unanswered``);
- a duplicate (the attempt already has that result) changes nothing;
- a failure after a success changes nothing;
- a success after expiry or cancellation is still money taken: the payment becomes
  ``succeeded``, flagged ``late`` and ``needs_review``;
- a second attempt that takes money after another one succeeded is money taken twice: it is
  recorded as ``duplicate_capture`` and the payment is flagged for review with the excess.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from payments.domain.ids import new_ulid
from payments.domain.payments import PaymentFlags, PaymentStatus

S = PaymentStatus


class Provider(StrEnum):
    VNPAY = "vnpay"
    MOMO = "momo"
    VIETQR = "vietqr"


class AttemptStatus(StrEnum):
    PENDING = "pending"  # started, or the provider said "later"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # we could not learn the provider's answer (timeout, 5xx)
    DUPLICATE_CAPTURE = "duplicate_capture"  # paid after another attempt already succeeded


A = AttemptStatus
OPEN_ATTEMPT = frozenset({A.PENDING, A.UNKNOWN})
# Every move an attempt may make. ``unknown`` is entered only from a ``pending`` attempt the
# provider never answered about, and left only on a provider's answer; money taken is final
# (a failure after it is ignored), while a success after a failure is still money taken.
ATTEMPT_TRANSITIONS: Mapping[AttemptStatus, frozenset[AttemptStatus]] = {
    A.PENDING: frozenset({A.UNKNOWN, A.SUCCEEDED, A.FAILED, A.DUPLICATE_CAPTURE}),
    A.UNKNOWN: frozenset({A.PENDING, A.SUCCEEDED, A.FAILED, A.DUPLICATE_CAPTURE}),
    A.FAILED: frozenset({A.SUCCEEDED, A.DUPLICATE_CAPTURE}),
    A.SUCCEEDED: frozenset(),
    A.DUPLICATE_CAPTURE: frozenset(),
}
# Providers with a status query. A bank transfer cannot be asked about: credits and the
# statement reconciliation settle VietQR attempts.
QUERYABLE = frozenset({Provider.VNPAY, Provider.MOMO})


class Result(StrEnum):
    """What a verified provider message says about an attempt."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True)
class Attempt:
    id: str
    payment_id: str
    provider: Provider
    provider_ref: str  # the reference the provider knows this attempt by
    merchant: str  # our merchant / terminal code at the provider when the attempt started
    amount: int
    currency: str
    status: AttemptStatus
    created_at: datetime
    updated_at: datetime
    provider_txn_id: str | None = None
    result_code: str | None = None
    next_query_at: datetime | None = None
    query_count: int = 0
    redirect_url: str | None = None  # where the payer was sent: a second choice goes there too
    left_for_review_at: datetime | None = None  # still open when its query ladder ended

    @property
    def answered(self) -> bool:
        """The provider has said something about this attempt (its code is kept)."""
        return self.result_code is not None


@dataclass(frozen=True)
class ProviderOutcome:
    """A verified message from a provider (callback or status answer), in our units."""

    provider: Provider
    provider_ref: str
    merchant: str
    amount: int
    currency: str
    result: Result
    result_code: str  # the provider's own code, kept for the record
    provider_txn_id: str = ""
    occurred_at: datetime | None = None


class Verdict(StrEnum):
    APPLIED = "applied"  # something changed
    DUPLICATE = "duplicate"  # the attempt already had this result
    IGNORED = "ignored"  # stale: e.g. a failure after a success
    REFUSED = "refused"  # amount, currency or merchant differ from what we asked
    NOT_FOUND = "not_found"  # no attempt with this provider reference
    UNVERIFIED = "unverified"  # signature or format check failed; never applied


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    attempt_status: AttemptStatus
    payment_status: PaymentStatus  # unchanged when no transition applies
    flags: PaymentFlags
    capture: bool = False  # post the payment's capture entry
    extra_capture: bool = False  # post money taken twice (owed back to the payer)

    def changes_payment(self, before: PaymentStatus) -> bool:
        return self.payment_status is not before


# When to ask the provider about an open attempt, counted from its start (not from the last
# query, so a late worker does not push the whole ladder out); and once when its payment
# expires, before the expiry sweep. After the last step nobody asks again: the attempt is left
# for review. Against a real provider an abandoned checkout costs at most len + 1 queries.
REQUERY_LADDER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)


def query_schedule(started_at: datetime, expires_at: datetime) -> tuple[datetime, ...]:
    """Every moment an attempt started at ``started_at`` is asked about, in order."""
    moments = {started_at + step for step in REQUERY_LADDER}
    if expires_at > started_at:
        moments.add(expires_at)
    return tuple(sorted(moments))


def next_query_at(started_at: datetime, expires_at: datetime, after: datetime) -> datetime | None:
    """The first moment of the schedule after ``after``; None once the ladder is over.

    Moments a stalled worker missed are skipped: one query catches up, not one per step.
    """
    return next((m for m in query_schedule(started_at, expires_at) if m > after), None)


def after_unanswered(attempt: Attempt) -> AttemptStatus:
    """The attempt's status after a question the provider left unanswered (timeout, 5xx,
    an answer we cannot use): ``unknown`` while the provider has told us nothing about it;
    otherwise what it last said stands (an unknown answer never overwrites a known one)."""
    if attempt.status is A.PENDING and not attempt.answered:
        return A.UNKNOWN
    return attempt.status


# A payer who chooses the same provider again within this time is sent to the attempt's own
# page again instead of starting another one. Shorter than VNPay's pay page (15 minutes,
# vnpay_provider.PAY_WINDOW) so the page sent to still works; after it a new attempt starts.
# A bank transfer reference stays good as long as its attempt is open.
REUSE_WINDOW = timedelta(minutes=10)


# Provider tries one payment may have in all (the setting PAYMENTS_MAX_ATTEMPTS_PER_PAYMENT):
# each one is asked about up to len(REQUERY_LADDER) + 1 times, so posting the checkout again
# and again cannot multiply the provider queries without bound.
DEFAULT_MAX_ATTEMPTS = 5


class StartRefusal(StrEnum):
    IN_PROGRESS = "in_progress"  # an open attempt at the provider has no page to send to
    TOO_MANY = "too_many"  # the payment has had its share of attempts
    # Another try the payer was sent to is still open and may yet take the money: a new one
    # starts only once the payer has been told so and chose to go on (``confirmed``).
    UNCONFIRMED = "unconfirmed"
    # Part of the amount came by bank transfer (VietQR): the rest must come the same way. A
    # card or wallet try would charge the whole amount again, since its amount is fixed.
    TRANSFER_ONLY = "transfer_only"


def reusable(attempt: Attempt, provider: Provider, now: datetime) -> bool:
    if attempt.provider is not provider or attempt.status not in OPEN_ATTEMPT:
        return False
    return provider is Provider.VIETQR or now < attempt.created_at + REUSE_WINDOW


def may_still_take_money(attempt: Attempt) -> bool:
    """The payer was sent to this try's page (or QR) and the provider has not said it failed:
    they may have paid there, and the money may still arrive."""
    return attempt.status in OPEN_ATTEMPT and attempt.redirect_url is not None


def choose_start(
    attempts: Sequence[Attempt],
    provider: Provider,
    *,
    now: datetime,
    max_attempts: int,
    received: int = 0,
    confirmed: bool = False,
) -> Attempt | StartRefusal | None:
    """What choosing ``provider`` does to a payment with ``attempts`` (oldest first), of which
    ``received`` minor units have arrived so far: reuse the open attempt there (an Attempt
    with its page), refuse, or start a new one (None).

    An open attempt without a page (another request is starting it, or its start went
    unanswered) is not doubled: the payer waits for it or picks another provider. A new
    attempt while another one may still take the money needs the payer's ``confirmed``
    choice: both may succeed, and the second payment then waits for a refund.
    """
    if received > 0 and provider is not Provider.VIETQR:
        return StartRefusal.TRANSFER_ONLY
    for attempt in reversed(attempts):
        if reusable(attempt, provider, now):
            return attempt if attempt.redirect_url else StartRefusal.IN_PROGRESS
    if len(attempts) >= max_attempts:
        return StartRefusal.TOO_MANY  # before asking to confirm a try that cannot start
    if not confirmed and any(may_still_take_money(a) for a in attempts):
        return StartRefusal.UNCONFIRMED
    return None


def new_attempt_id(now: datetime) -> str:
    return "att_" + new_ulid(now)


_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: people retype it


def new_transfer_reference() -> str:
    """A short reference for bank transfers (VietQR): banks keep ~25 ASCII characters and
    citizens may type it by hand, so it is short, upper case and unambiguous (50 bits)."""
    return "PF" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(10))


def provider_reference(provider: Provider, attempt_id: str) -> str:
    if provider is Provider.VIETQR:
        return new_transfer_reference()
    return attempt_id  # letters, digits and '_': valid as vnp_TxnRef and MoMo orderId


def mismatch(attempt: Attempt, outcome: ProviderOutcome) -> str | None:
    """Why ``outcome`` cannot be about ``attempt``, or None when it can."""
    if outcome.provider is not attempt.provider or outcome.provider_ref != attempt.provider_ref:
        return "the message names another attempt"
    if outcome.merchant != attempt.merchant:
        return "merchant differs from the attempt's"
    if outcome.currency != attempt.currency:
        return f"currency {outcome.currency} differs from {attempt.currency}"
    if outcome.amount != attempt.amount:
        return f"amount {outcome.amount} differs from {attempt.amount}"
    return None


def decide(
    *,
    payment_status: PaymentStatus,
    flags: PaymentFlags,
    attempt: Attempt,
    outcome: ProviderOutcome,
    other_attempt_succeeded: bool,
    other_attempt_open: bool,
) -> Decision:
    """What applying ``outcome`` to ``attempt`` (of a payment in ``payment_status``) changes."""

    def keep(verdict: Verdict, reason: str) -> Decision:
        return Decision(verdict, reason, attempt.status, payment_status, flags)

    problem = mismatch(attempt, outcome)
    if problem is not None:
        return keep(Verdict.REFUSED, problem)
    if outcome.result is Result.SUCCEEDED:
        return _success(payment_status, flags, attempt, outcome, other_attempt_succeeded)
    if attempt.status in (AttemptStatus.SUCCEEDED, AttemptStatus.DUPLICATE_CAPTURE):
        return keep(
            Verdict.IGNORED, f"the attempt already took the money; {outcome.result} ignored"
        )
    if outcome.result is Result.FAILED:
        if attempt.status is AttemptStatus.FAILED:
            return keep(Verdict.DUPLICATE, "the attempt already failed")
        # A failed try does not end the payment, and only the last open try decides that the
        # payment as a whole is failed (the citizen may have gone on to another provider).
        fails_payment = payment_status is S.PENDING and not other_attempt_open
        return Decision(
            Verdict.APPLIED,
            "the provider reports a failure",
            AttemptStatus.FAILED,
            S.FAILED if fails_payment else payment_status,
            flags,
        )
    # Result.PENDING: the provider knows the attempt and says "later". The first time it says
    # so is kept (its code): from then on an unanswered question cannot make it unknown.
    if attempt.status is AttemptStatus.PENDING and attempt.answered:
        return keep(Verdict.DUPLICATE, "the attempt is already pending")
    if attempt.status is AttemptStatus.FAILED:
        return keep(Verdict.IGNORED, "the attempt already failed; pending ignored")
    return Decision(
        Verdict.APPLIED, "the provider says pending", AttemptStatus.PENDING, payment_status, flags
    )


def _success(
    payment_status: PaymentStatus,
    flags: PaymentFlags,
    attempt: Attempt,
    outcome: ProviderOutcome,
    other_attempt_succeeded: bool,
) -> Decision:
    if attempt.status in (AttemptStatus.SUCCEEDED, AttemptStatus.DUPLICATE_CAPTURE):
        return Decision(
            Verdict.DUPLICATE,
            "the attempt already succeeded",
            attempt.status,
            payment_status,
            flags,
        )
    if other_attempt_succeeded:
        return Decision(
            Verdict.APPLIED,
            "money taken by a second attempt after another succeeded: refund the excess",
            AttemptStatus.DUPLICATE_CAPTURE,
            payment_status,
            replace(
                flags,
                needs_review=True,
                received_amount=flags.received_amount + outcome.amount,
                overpaid_amount=flags.overpaid_amount + outcome.amount,
            ),
            extra_capture=True,
        )
    late = payment_status in (S.CANCELLED, S.EXPIRED)
    return Decision(
        Verdict.APPLIED,
        f"paid after the payment was {payment_status}: review" if late else "paid",
        AttemptStatus.SUCCEEDED,
        S.SUCCEEDED,
        replace(
            flags,
            late=flags.late or late,
            needs_review=flags.needs_review or late,
            received_amount=flags.received_amount + outcome.amount,
        ),
        capture=True,
    )
