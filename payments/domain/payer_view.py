"""What a payer's checkout link shows: their payment as they need to see it.

The public status is for portals. A payer needs more: whether a try they were sent to may still
take their money (paying again then risks paying twice), how much of a bank transfer arrived
(only the rest is due, and only by transfer, so that it counts toward this payment), why the
last try did not go through, or the proof once it is paid. Pure: the page asks, the template
shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments.domain.attempts import Attempt, AttemptStatus, Provider, may_still_take_money
from payments.domain.payments import Payment, PaymentStatus

S = PaymentStatus


class PayerState(StrEnum):
    PAYABLE = "payable"  # nothing in flight: choose how to pay
    IN_PROGRESS = "in_progress"  # a try the payer was sent to may still take the money
    PARTLY_RECEIVED = "partly_received"  # part of a bank transfer arrived: the rest is due
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PayerView:
    state: PayerState
    amount_due: int  # minor units still to pay: the whole amount until money arrives
    received: int  # minor units received so far (a transfer may come in parts, or overpay)
    in_flight: tuple[Attempt, ...]  # tries that may still take the money, newest first
    last_failed: Attempt | None  # the newest try, when the provider said it failed
    paid_by: Attempt | None  # the try that took the money

    @property
    def payable(self) -> bool:
        return self.state in (
            PayerState.PAYABLE,
            PayerState.IN_PROGRESS,
            PayerState.PARTLY_RECEIVED,
        )

    @property
    def transfer(self) -> Attempt | None:
        """The open bank transfer the rest goes to (same reference, so the parts add up)."""
        return next((a for a in self.in_flight if a.provider is Provider.VIETQR), None)


def amount_due(payment: Payment) -> int:
    """What is left to pay: the amount less what arrived (never below zero)."""
    return max(payment.draft.amount - payment.flags.received_amount, 0)


def payer_view(payment: Payment, attempts: Sequence[Attempt], now: datetime) -> PayerView:
    """The payer's view of ``payment`` with its ``attempts`` (oldest first) at ``now``.

    Paid wins over everything (a success after expiry is still money taken); then the end
    states; an overdue payment the sweep has not expired yet is shown expired, as it can no
    longer be paid. Among payable ones, money received by transfer comes first (only the rest,
    by transfer), then a try in flight, else the choice of provider.
    """
    in_flight = tuple(a for a in reversed(attempts) if may_still_take_money(a))
    newest = attempts[-1] if attempts else None
    last_failed = newest if newest and newest.status is AttemptStatus.FAILED else None
    paid_by = next((a for a in attempts if a.status is AttemptStatus.SUCCEEDED), None)
    received = payment.flags.received_amount

    def view(state: PayerState) -> PayerView:
        return PayerView(state, amount_due(payment), received, in_flight, last_failed, paid_by)

    if payment.status is S.SUCCEEDED:
        return view(PayerState.PAID)
    if payment.status is S.CANCELLED:
        return view(PayerState.CANCELLED)
    if payment.status is S.EXPIRED or payment.expires_at <= now:
        return view(PayerState.EXPIRED)
    if received > 0:
        return view(PayerState.PARTLY_RECEIVED)
    if in_flight:
        return view(PayerState.IN_PROGRESS)
    return view(PayerState.PAYABLE)
