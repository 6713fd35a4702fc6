"""Payment attempts, and the rules for applying what a provider says about one.

A payment has one attempt per provider try; at most one attempt can succeed. Providers talk
about attempts (VNPay's ``vnp_TxnRef``, MoMo's ``orderId``, the VietQR reference all name an
attempt), and ``decide`` turns "the provider says X about attempt A of payment P" into what
changes. It is pure: the service loads the state, asks, and stores the answer.

Rules (issue 4, item 4; ARCHITECTURE.md section 3):
- a message whose amount, currency or merchant differs from the attempt is refused;
- a duplicate (the attempt already has that result) changes nothing;
- a failure after a success changes nothing;
- a success after expiry or cancellation is still money taken: the payment becomes
  ``succeeded``, flagged ``late`` and ``needs_review``;
- a second attempt that takes money after another one succeeded is money taken twice: it is
  recorded as ``duplicate_capture`` and the payment is flagged for review with the excess.
"""

from __future__ import annotations

import secrets
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


OPEN_ATTEMPT = frozenset({AttemptStatus.PENDING, AttemptStatus.UNKNOWN})
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


# Ask the provider about an open attempt after 1 min, 5 min, 30 min, 2 h, then daily.
REQUERY_LADDER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
REQUERY_DAILY = timedelta(days=1)


def next_query_at(last: datetime, queries_so_far: int) -> datetime:
    step = REQUERY_LADDER[queries_so_far] if queries_so_far < len(REQUERY_LADDER) else REQUERY_DAILY
    return last + step


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
    # Result.PENDING: the provider knows the attempt and says "later".
    if attempt.status is AttemptStatus.PENDING:
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
