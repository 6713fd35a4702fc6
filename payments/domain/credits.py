"""Bank transfer credits (VietQR): money that arrived, matched to an attempt by reference.

Unlike a card or wallet payment, a transfer's amount is whatever the payer typed: an
underpayment leaves the payment pending with the amount received so far; the credit that
completes it makes the payment succeed; anything beyond the amount asked (or any credit after
the payment already succeeded) is owed back to the payer and flagged for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from payments.domain.attempts import Attempt, AttemptStatus, Decision, Verdict
from payments.domain.payments import PaymentFlags, PaymentStatus

S = PaymentStatus
# What new_transfer_reference makes, found amid other text in any case (see providers.vietqr).
REFERENCE_PATTERN = re.compile(r"PF[A-HJ-NP-Z2-9]{10}")


@dataclass(frozen=True)
class BankCredit:
    transfer_id: str  # the bank's unique id: a credit counts once, however often notified
    amount: int
    currency: str
    description: str
    credited_at: datetime
    reference: str | None = None  # the attempt reference found in the description
    attempt_id: str | None = None
    payment_id: str | None = None


@dataclass(frozen=True)
class CreditDecision:
    decision: Decision
    excess: int  # minor units owed back to the payer from this credit


def decide_credit(
    *,
    payment_status: PaymentStatus,
    payment_amount: int,
    flags: PaymentFlags,
    attempt: Attempt,
    credit: BankCredit,
    other_attempt_succeeded: bool,
) -> CreditDecision:
    def outcome(
        reason: str, status: AttemptStatus, payment: PaymentStatus, new: PaymentFlags, **kw: bool
    ) -> Decision:
        return Decision(Verdict.APPLIED, reason, status, payment, new, **kw)

    if credit.currency != attempt.currency:
        kept = Decision(
            Verdict.REFUSED,
            f"currency {credit.currency} differs from {attempt.currency}",
            attempt.status,
            payment_status,
            replace(flags, needs_review=True),
        )
        return CreditDecision(kept, 0)
    received = flags.received_amount + credit.amount
    paid_already = other_attempt_succeeded or attempt.status in (
        AttemptStatus.SUCCEEDED,
        AttemptStatus.DUPLICATE_CAPTURE,
    )
    if paid_already:
        new = replace(
            flags,
            received_amount=received,
            overpaid_amount=flags.overpaid_amount + credit.amount,
            needs_review=True,
        )
        reason = "credit after the payment was paid: refund it"
        status = attempt.status
        if (
            other_attempt_succeeded
            and attempt.status in (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
            and credit.amount == attempt.amount
        ):
            # Paid in full a second time by transfer: this attempt took that money, so its
            # refund goes back through it (and its provider's clearing), not the other's.
            status = AttemptStatus.DUPLICATE_CAPTURE
        return CreditDecision(outcome(reason, status, payment_status, new), credit.amount)
    if received < payment_amount:
        new = replace(flags, received_amount=received)
        reason = f"underpaid: {received} of {payment_amount} received"
        return CreditDecision(outcome(reason, attempt.status, payment_status, new), 0)
    late = payment_status in (S.CANCELLED, S.EXPIRED)
    excess = received - payment_amount
    new = replace(
        flags,
        received_amount=received,
        overpaid_amount=flags.overpaid_amount + excess,
        late=flags.late or late,
        needs_review=flags.needs_review or late or excess > 0,
    )
    reason = "paid" + (f", {excess} over" if excess else "") + (", late" if late else "")
    return CreditDecision(
        outcome(reason, AttemptStatus.SUCCEEDED, S.SUCCEEDED, new, capture=True), excess
    )
