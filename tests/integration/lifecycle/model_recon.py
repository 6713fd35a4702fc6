"""The reference model's reconciliation: what was imported for each day, what a run of a day
should report and book (settlement.md, docs/reconciliation.md), which days are settled and
reconciled, and which exceptions staff resolved.

A run books, per payment and once: the provider's settlement (from the first report line that
agrees with it, when no refund of it is in flight) and the remittance (once the treasury
confirmed it and its settlement is booked; a confirmation before that waits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from payments.ledger import chart
from tests.integration.lifecycle.model import Gateway, MPayment
from tests.integration.lifecycle.model_refunds import Refunds
from tests.integration.lifecycle.recon_match import (
    EXCEPTIONS,
    PROVIDERS,
    Item,
    Named,
    Seen,
    SLine,
    TLine,
    item_key,
    match,
    span,
    tie,
)
from tests.integration.lifecycle.recon_match import due as due_on


@dataclass
class Day:
    statements: list[list[TLine]] = field(default_factory=list)
    reports: dict[str, list[SLine]] = field(default_factory=dict)  # the newest per provider
    items: list[Item] | None = None  # the latest run's
    resolved: set[str] = field(default_factory=set)  # item keys staff resolved


class Recon:
    def __init__(self, gateway: Gateway, refunds: Refunds) -> None:
        self.gateway = gateway
        self.refunds = refunds
        self.days: dict[date, Day] = {}
        self.settled_on: dict[str, date] = {}
        self.net: dict[str, int] = {}  # what each settlement moved off clearing
        self.confirmed_on: dict[str, date] = {}
        self.remitted: set[str] = set()  # confirmed, and the remittance posted

    def day(self, day: date) -> Day:
        return self.days.setdefault(day, Day())

    def seen(self, day: date) -> list[Seen]:
        """The succeeded payments captured in the span a run of ``day`` reads."""
        start, end = span(day)
        found = []
        for p in self.gateway.payments.values():
            won = self.gateway.succeeded_attempt(p)
            if p.status.value == "succeeded" and won and start <= won.updated_at < end:
                owed = p.amount - self.refunds.paid_from_budget(p.id)
                provider, at = won.provider.value, won.updated_at
                found.append(Seen(p.id, owed, p.amount, p.currency, provider, won.ref, at))
        return found

    def run(self, day: date) -> list[tuple[str | None, str | None]]:
        """A run of ``day``: its expected items (``Day.items``), booking what it books; what
        it then asks the providers about (``recon_match.tie``)."""
        d = self.day(day)
        lines = [line for statement in d.statements for line in statement]
        settlements = [line for p in PROVIDERS for line in d.reports.get(p, [])]
        loaded = self.seen(day)
        self._settle(day, loaded, settlements)
        batches = {s.reference: s.batch for s in settlements if s.batch}
        payments = [
            Seen(**{**p.__dict__, "batch": batches.get(p.ref) or batches.get(p.id)})
            for p in loaded
            if self.confirmed_on.get(p.id, day) >= day
        ]
        earlier = [p for p in loaded if p.id in self.confirmed_on and p.id not in self.remitted]
        earlier = [p for p in earlier if self.confirmed_on[p.id] < day]
        before = {pid for pid, on in self.settled_on.items() if on < day}
        items, unknown = match(day, payments, lines, settlements, earlier, set(d.reports), before)
        asks = tie(day, items, unknown, self.named)
        for outcome, pid, *_ in items:
            if outcome.value in ("matched", "late") and pid and pid not in self.confirmed_on:
                self.confirmed_on[pid] = day
                self.refunds.passed_on.add(pid)
        for pid in sorted(self.confirmed_on):
            if pid in self.settled_on and pid not in self.remitted:
                self._remit(self.gateway.payments[pid])
        d.items = items
        # A resolution is carried by the next run that has the same exception again.
        d.resolved &= {item_key(i) for i in items if i[0] in EXCEPTIONS}
        return asks

    def named(self, reference: str) -> Named | None:
        """The payment ``reference`` names (an attempt's id or provider reference, or the
        payment's own id), as the gateway knows it before the run."""
        gw = self.gateway
        attempt = next((a for a in gw.attempts.values() if reference in (a.id, a.ref)), None)
        payment = gw.payments[attempt.payment_id] if attempt else gw.payments.get(reference)
        if payment is None:
            return None
        if attempt is None:
            attempt = gw.succeeded_attempt(payment)
        provider = attempt.provider.value if attempt is not None else None
        return Named(
            payment.id, provider, self.confirmed_on.get(payment.id), self.settled_on.get(payment.id)
        )

    def _settle(self, day: date, loaded: list[Seen], settlements: list[SLine]) -> None:
        by_ref = {p.id: p for p in loaded} | {p.ref: p for p in loaded}
        first: set[str] = set()
        for line in settlements:
            p = by_ref.get(line.reference)
            if p is None or p.provider != line.provider or p.id in first:
                continue
            first.add(p.id)
            agrees = line.amount == p.gross and line.currency == p.currency
            if p.id in self.settled_on or not agrees or self.refunds.in_flight(p.id):
                continue
            self.settled_on[p.id] = day
            self.refunds.passed_on.add(p.id)
            payment = self.gateway.payments[p.id]
            net = payment.amount - self.refunds.paid_from_budget(p.id)
            self.net[p.id] = net
            cur = payment.currency
            self.gateway.books.post(
                None,
                (chart.collection_bank(cur), net),
                (chart.provider_fees(line.provider, cur), line.fee),
                (chart.provider_clearing(line.provider, cur), -net),
                (chart.fee_cover(cur), -line.fee),
            )

    def _remit(self, payment: MPayment) -> None:
        """What the treasury was owed for it leaves the collection account."""
        self.remitted.add(payment.id)
        cur, owed = payment.currency, payment.amount - self.refunds.paid_from_budget(payment.id)
        self.gateway.books.post(
            None,
            (chart.budget_payable(payment.agency, payment.sub_item, cur), owed),
            (chart.collection_bank(cur), -owed),
        )

    # --- what staff see ----------------------------------------------------------------------

    def open_exceptions(self, day: date) -> list[Item]:
        d = self.day(day)
        return [i for i in d.items or [] if i[0] in EXCEPTIONS and item_key(i) not in d.resolved]

    def clean(self, day: date) -> bool:
        """Settled and reconciled with no exceptions: the latest run has none at all, and
        every payment due on the day is settled and remitted."""
        d = self.day(day)
        if d.items is None or any(i[0] in EXCEPTIONS for i in d.items):
            return False
        due = [p for p in self.seen(day) if due_on(p.captured_at) == day]
        return all(p.id in self.settled_on and p.id in self.remitted for p in due)

    def clearing_of(self, payment: MPayment) -> int:
        """What ``payment`` left on its providers' clearing accounts: all it took (its
        capture and every excess), less the refunds paid out of it and its settlement."""
        took = payment.amount + payment.overpaid if payment.status.value == "succeeded" else 0
        paid = sum(r.amount for r in self.refunds.of(payment.id) if r.status.value == "succeeded")
        return took - paid - self.net.get(payment.id, 0)
