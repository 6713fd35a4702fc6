"""Refunds in the reference model (docs/refunds.md): what may be asked, what each answer of
the provider does, the background run's ladder, and the entries each step books.

The provider's side is the world's (``world.RefundDesk``): the model asks the same desk the
gateway asks, so it knows what the provider did with every request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payments.domain.attempts import Provider, Result
from payments.ledger import chart
from payments.refunds.rules.lifecycle import RefundStatus
from tests.integration.lifecycle.desks import RefundDesk
from tests.integration.lifecycle.model import A, Gateway, MAttempt, MPayment, ladder

R = RefundStatus
TERMINAL = frozenset({R.SUCCEEDED, R.FAILED, R.REJECTED})
BOOKED = frozenset({R.APPROVED, R.PROCESSING, R.PENDING, R.UNKNOWN, R.SUBMITTED})
SCHEDULED = frozenset({R.APPROVED, R.PROCESSING, R.PENDING, R.UNKNOWN})
LEASE = timedelta(minutes=2)
THRESHOLD = 1_000_000  # tests.support.refund_support.POLICY


@dataclass
class MRefund:
    id: str
    payment_id: str
    attempt_id: str
    provider: Provider
    amount: int
    from_excess: int
    status: RefundStatus
    requested_by: str
    next_action_at: datetime | None
    checks: int = 0
    decided: tuple[str, bool] | None = None  # (officer, approved) once decided

    @property
    def from_budget(self) -> int:
        return self.amount - self.from_excess


@dataclass(frozen=True)
class Asked:
    """What asking would do: refused (why), or the attempt it goes through and its split."""

    refused: str | None
    attempt_id: str = ""
    from_excess: int = 0
    waits: bool = False


class Refunds:
    def __init__(self, gateway: Gateway, desks: dict[Provider, RefundDesk]) -> None:
        self.gateway = gateway
        self.desks = desks
        self.refunds: dict[str, MRefund] = {}
        self.passed_on: set[str] = set()  # payments settled or confirmed: refunds refused

    def of(self, payment_id: str) -> list[MRefund]:
        return [r for r in self.refunds.values() if r.payment_id == payment_id]

    def totals(self, payment: MPayment) -> tuple[int, int, int]:
        """(captured, refunded, available)."""
        mine = self.of(payment.id)
        refunded = sum(r.amount for r in mine if r.status is R.SUCCEEDED)
        in_flight = sum(r.amount for r in mine if r.status not in TERMINAL)
        return payment.captured, refunded, payment.captured - refunded - in_flight

    def in_flight(self, payment_id: str) -> bool:
        return any(r.status not in TERMINAL for r in self.of(payment_id))

    def paid_from_budget(self, payment_id: str) -> int:
        return sum(r.from_budget for r in self.of(payment_id) if r.status is R.SUCCEEDED)

    def ask(self, payment: MPayment, amount: int) -> Asked:
        if payment.status.value != "succeeded":
            return Asked("not paid")
        mine = [r for r in self.of(payment.id) if r.status not in (R.FAILED, R.REJECTED)]
        excess = max(0, payment.overpaid - sum(r.from_excess for r in mine))
        if amount > excess and payment.id in self.passed_on:
            return Asked("passed on to the treasury")  # the budget's share is the treasury's
        if amount > self.totals(payment)[2]:
            return Asked("more than available")
        attempts = [self.gateway.attempts[i] for i in payment.attempts]
        twice = [a for a in attempts if a.status is A.DUPLICATE_CAPTURE]
        once = [a for a in attempts if a.status is A.SUCCEEDED]
        ceiling = {a.id: a.amount for a in twice}
        for a in once:
            ceiling[a.id] = payment.captured - sum(d.amount for d in twice)
        for attempt in [*twice, *once]:
            held = sum(r.amount for r in mine if r.attempt_id == attempt.id)
            if amount <= ceiling[attempt.id] - held:
                return Asked(None, attempt.id, min(amount, excess), amount > THRESHOLD)
        return Asked("split it")

    def add(self, refund: MRefund) -> None:
        self.refunds[refund.id] = refund
        if refund.status is R.APPROVED:
            self._book(refund)

    # --- the books -------------------------------------------------------------------------

    def _payment(self, refund: MRefund) -> MPayment:
        return self.gateway.payments[refund.payment_id]

    def _book(self, refund: MRefund) -> None:
        if refund.from_budget:
            p = self._payment(refund)
            self.gateway.books.post(
                f"refund:{refund.id}:booked",
                (chart.budget_payable(p.agency, p.sub_item, p.currency), refund.from_budget),
                (chart.refunds_payable(p.currency), -refund.from_budget),
            )

    def _unbook(self, refund: MRefund) -> None:
        if refund.from_budget:
            p = self._payment(refund)
            self.gateway.books.reversals += 1
            self.gateway.books.post(
                None,
                (chart.budget_payable(p.agency, p.sub_item, p.currency), -refund.from_budget),
                (chart.refunds_payable(p.currency), refund.from_budget),
            )

    def _pay(self, refund: MRefund) -> None:
        cur = self._payment(refund).currency
        self.gateway.books.post(
            f"refund:{refund.id}:paid",
            (chart.refunds_payable(cur), refund.amount),
            (chart.provider_clearing(refund.provider.value, cur), -refund.amount),
        )

    # --- decisions and answers --------------------------------------------------------------

    def approve(self, refund: MRefund, now: datetime) -> None:
        refund.status, refund.next_action_at = R.APPROVED, now
        self._book(refund)

    def reject(self, refund: MRefund) -> None:
        refund.status, refund.next_action_at = R.REJECTED, None

    def confirm(self, refund: MRefund) -> None:
        refund.status = R.SUCCEEDED
        self._pay(refund)

    def transfer_failed(self, refund: MRefund) -> None:
        refund.status = R.FAILED
        self._unbook(refund)

    def execute(self, refund: MRefund, now: datetime) -> None:
        """Sent right after it is approved (what asking and approving do)."""
        due = refund.next_action_at
        if refund.status is R.APPROVED and due is not None and due <= now:
            self._send(refund, now)

    def background(self, now: datetime) -> None:
        due = [
            r
            for r in self.refunds.values()
            if r.status in SCHEDULED and r.next_action_at is not None and r.next_action_at <= now
        ]
        for refund in due:
            if refund.status is R.APPROVED:
                self._send(refund, now)
            else:
                refund.checks += 1
                self._check(refund, now)

    def _send(self, refund: MRefund, now: datetime) -> None:
        refund.status, refund.next_action_at = R.PROCESSING, now + LEASE
        self._answer(refund, self._desk_refund(refund), now)

    def _check(self, refund: MRefund, now: datetime) -> None:
        desk = self.desks.get(refund.provider)
        if desk is None:  # VietQR: only a person settles a transfer instruction
            self._answer(refund, "submitted", now)
            return
        if desk.down:
            self._answer(refund, "unknown", now)
        elif refund.id not in desk.records:
            self._answer(refund, self._desk_refund(refund), now)  # never got it: again
        else:
            self._answer(refund, desk.records[refund.id].value, now)

    def _desk_refund(self, refund: MRefund) -> str:
        """What the provider answers to the refund request (and what it records)."""
        desk = self.desks.get(refund.provider)
        if desk is None:
            return "submitted"
        if desk.down:
            return "unknown"
        known = desk.records.get(refund.id)
        if known is not None:
            return known.value
        if desk.mode in ("timeout_made", "timeout_lost"):
            return "unknown"
        return {"ok": "succeeded", "fail": "failed"}.get(desk.mode, "pending")

    def _answer(self, refund: MRefund, answer: str, now: datetime) -> None:
        if answer == Result.SUCCEEDED.value:
            refund.status, refund.next_action_at = R.SUCCEEDED, None
            self._pay(refund)
        elif answer == Result.FAILED.value:
            refund.status, refund.next_action_at = R.FAILED, None
            self._unbook(refund)
        elif answer == Result.PENDING.value:
            refund.status, refund.next_action_at = R.PENDING, now + ladder(refund.checks)
        elif answer == "unknown":
            if refund.status is not R.PENDING:
                refund.status = R.UNKNOWN
            refund.next_action_at = now + ladder(refund.checks)
        else:
            refund.status, refund.next_action_at = R.SUBMITTED, None


def source_attempt(refunds: Refunds, refund: MRefund) -> MAttempt:
    return refunds.gateway.attempts[refund.attempt_id]
