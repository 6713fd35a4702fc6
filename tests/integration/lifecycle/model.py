"""The reference model: what the gateway should hold after each step, in plain Python.

It is written from the rules as ARCHITECTURE.md and the docs (docs/) state them (statuses and
transitions, attempts, late and duplicate captures, VietQR credits, the requery ladder,
expiry), not from the gateway's code, and it keeps the books it expects (``books``): every
entry the gateway must have posted, folded into balances per account. Refunds are in
``model_refunds``, the reconciliation in ``model_recon``; this module holds what they share.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payments.domain.attempts import AttemptStatus, Provider, Result, Verdict
from payments.domain.payments import PaymentStatus
from payments.ledger import chart
from payments.ledger.entries import AccountSpec, AccountType

A = AttemptStatus
S = PaymentStatus
OPEN = frozenset({A.PENDING, A.UNKNOWN})
TOOK_MONEY = frozenset({A.SUCCEEDED, A.DUPLICATE_CAPTURE})
HOLDS_REFERENCE = frozenset({S.CREATED, S.PENDING, S.FAILED, S.SUCCEEDED})
PAYABLE = frozenset({S.CREATED, S.PENDING, S.FAILED})  # also cancellable and expirable
LADDER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
QUERYABLE = frozenset({Provider.VNPAY, Provider.MOMO})
# An attempt is asked about this long after it started, and when its payment expires; after
# the last step it is left for review (issue 13, item 3).
ATTEMPT_LADDER = (*LADDER, timedelta(hours=6), timedelta(hours=24))
REUSE_WINDOW = timedelta(minutes=10)  # choosing the provider again goes back to its page
MAX_ATTEMPTS = 5  # per payment


# A refund is asked about on the same six steps, from its last check, then daily (issue 13,
# item 2: raised to people after the sixth).
REFUND_LADDER = ATTEMPT_LADDER


def ladder(step: int) -> timedelta:
    """The refunds' check ladder: from the last check, then daily."""
    return REFUND_LADDER[step] if step < len(REFUND_LADDER) else timedelta(days=1)


def next_query(started: datetime, expires_at: datetime, after: datetime) -> datetime | None:
    moments = sorted({started + step for step in ATTEMPT_LADDER} | {expires_at})
    return next((m for m in moments if m > after), None)


@dataclass
class MAttempt:
    id: str
    payment_id: str
    provider: Provider
    ref: str
    amount: int
    currency: str
    started: datetime
    updated_at: datetime
    status: AttemptStatus = A.PENDING
    next_query_at: datetime | None = None
    query_count: int = 0
    answered: bool = False  # the provider has said something about it
    page: bool = False  # the page the payer was sent to is kept
    left_for_review_at: datetime | None = None


@dataclass
class MPayment:
    id: str
    agency: str
    agency_id: int
    reference: str
    sub_item: str
    amount: int
    currency: str
    token: str
    expires_at: datetime
    status: PaymentStatus = S.CREATED
    late: bool = False
    needs_review: bool = False
    received: int = 0
    overpaid: int = 0
    attempts: list[str] = field(default_factory=list)

    @property
    def captured(self) -> int:
        """What the payment took: nothing unless it succeeded; else all that came in."""
        return max(self.received, self.amount) if self.status is S.SUCCEEDED else 0


@dataclass
class Books:
    """The entries the gateway must have posted, as balances (debits minus credits)."""

    nets: Counter[str] = field(default_factory=Counter)
    types: dict[str, AccountType] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)  # payment:… and refund:… source keys
    reversals: int = 0

    def post(self, key: str | None, *legs: tuple[AccountSpec, int]) -> None:
        assert sum(net for _, net in legs) == 0, legs
        if key is not None:
            assert key not in self.keys, key
            self.keys.add(key)
        for spec, net in legs:
            self.nets[spec.code] += net
            self.types[spec.code] = spec.type
            self.currencies[spec.code] = spec.currency


class Gateway:
    """The payments and attempts the gateway should have, and the books."""

    def __init__(self) -> None:
        self.payments: dict[str, MPayment] = {}
        self.attempts: dict[str, MAttempt] = {}
        self.credits_seen: set[str] = set()  # bank transfer ids counted (once each)
        # Paid at VNPay or MoMo, and by a VietQR transfer as well (machine-findings.md, 1).
        self.cross_excess: set[str] = set()
        self.books = Books()

    def holder(self, agency_id: int, reference: str) -> MPayment | None:
        return next(
            (
                p
                for p in self.payments.values()
                if p.agency_id == agency_id
                and p.reference == reference
                and p.status in HOLDS_REFERENCE
            ),
            None,
        )

    def by_ref(self, provider: Provider, ref: str) -> MAttempt | None:
        return next(
            (a for a in self.attempts.values() if a.provider is provider and a.ref == ref), None
        )

    def others(self, attempt: MAttempt) -> list[MAttempt]:
        payment = self.payments[attempt.payment_id]
        return [self.attempts[i] for i in payment.attempts if i != attempt.id]

    def succeeded_attempt(self, payment: MPayment) -> MAttempt | None:
        found = [self.attempts[i] for i in payment.attempts]
        return next((a for a in found if a.status is A.SUCCEEDED), None)

    # --- money in --------------------------------------------------------------------------

    def capture(self, payment: MPayment, provider: Provider) -> None:
        cur = payment.currency
        self.books.post(
            f"payment:{payment.id}:captured",
            (chart.provider_clearing(provider.value, cur), payment.amount),
            (chart.budget_payable(payment.agency, payment.sub_item, cur), -payment.amount),
        )

    def excess(self, payment: MPayment, provider: Provider, amount: int, event: str) -> None:
        cur = payment.currency
        self.books.post(
            f"payment:{payment.id}:excess:{event}",
            (chart.provider_clearing(provider.value, cur), amount),
            (chart.refunds_payable(cur), -amount),
        )

    def outcome(
        self, attempt: MAttempt, result: Result, amount: int, currency: str, now: datetime
    ) -> Verdict:
        """A verified provider message (callback or query answer) about ``attempt``."""
        if amount != attempt.amount or currency != attempt.currency:
            return Verdict.REFUSED
        payment = self.payments[attempt.payment_id]
        others = self.others(attempt)
        if result is Result.SUCCEEDED:
            if attempt.status in TOOK_MONEY:
                return Verdict.DUPLICATE
            self._took(attempt, now)
            payment.received += amount
            if any(o.status is A.SUCCEEDED for o in others):
                attempt.status = A.DUPLICATE_CAPTURE
                payment.overpaid += amount
                payment.needs_review = True
                self.excess(payment, attempt.provider, amount, attempt.id)
                return Verdict.APPLIED
            attempt.status = A.SUCCEEDED
            if payment.status in (S.CANCELLED, S.EXPIRED):
                payment.late = payment.needs_review = True
            payment.status = S.SUCCEEDED
            self.capture(payment, attempt.provider)
            return Verdict.APPLIED
        if attempt.status in TOOK_MONEY:
            return Verdict.IGNORED
        if result is Result.FAILED:
            if attempt.status is A.FAILED:
                return Verdict.DUPLICATE
            attempt.status, attempt.updated_at = A.FAILED, now
            self._settled(attempt)
            if payment.status is S.PENDING and not any(o.status in OPEN for o in others):
                payment.status = S.FAILED
            return Verdict.APPLIED
        # "Later": the first time the provider says so is kept; only it replaces unknown.
        if attempt.status is A.PENDING and attempt.answered:
            return Verdict.DUPLICATE
        if attempt.status is A.FAILED:
            return Verdict.IGNORED
        attempt.status, attempt.updated_at, attempt.answered = A.PENDING, now, True
        return Verdict.APPLIED

    def unanswered(self, attempt: MAttempt) -> None:
        """A question the provider left unanswered: we do not know, unless it told us."""
        if attempt.status is A.PENDING and not attempt.answered:
            attempt.status = A.UNKNOWN

    def _settled(self, attempt: MAttempt) -> None:
        attempt.next_query_at, attempt.left_for_review_at, attempt.answered = None, None, True

    def _took(self, attempt: MAttempt, now: datetime) -> None:
        attempt.updated_at = now
        self._settled(attempt)

    def credit(
        self, attempt: MAttempt, amount: int, currency: str, transfer_id: str, now: datetime
    ) -> Verdict:
        """A VietQR transfer (counted once per transfer id by the caller) for ``attempt``."""
        payment = self.payments[attempt.payment_id]
        if currency != attempt.currency:
            payment.needs_review = True
            return Verdict.REFUSED
        payment.received += amount
        paid = attempt.status in TOOK_MONEY or any(
            o.status is A.SUCCEEDED for o in self.others(attempt)
        )
        if paid:
            if attempt.status in OPEN and amount == attempt.amount:
                # Paid in full a second time: this attempt took that money (and gives it back).
                attempt.status = A.DUPLICATE_CAPTURE
                self._took(attempt, now)
            won = self.succeeded_attempt(payment)
            if attempt.status in OPEN and won is not None and won.provider is not Provider.VIETQR:
                self.cross_excess.add(payment.id)
            payment.overpaid += amount
            payment.needs_review = True
            self.excess(payment, Provider.VIETQR, amount, transfer_id)
            return Verdict.APPLIED
        if payment.received < payment.amount:
            return Verdict.APPLIED
        over = payment.received - payment.amount
        attempt.status = A.SUCCEEDED
        self._took(attempt, now)
        if payment.status in (S.CANCELLED, S.EXPIRED):
            payment.late = payment.needs_review = True
        payment.overpaid += over
        payment.needs_review = payment.needs_review or over > 0
        payment.status = S.SUCCEEDED
        self.capture(payment, Provider.VIETQR)
        if over:
            self.excess(payment, Provider.VIETQR, over, transfer_id)
        return Verdict.APPLIED

    # --- the clock's work ------------------------------------------------------------------

    def due_for_query(self, now: datetime) -> list[MAttempt]:
        """What a requery round claims: open, queryable attempts whose next query is due
        (the payment's expiry is one moment of every attempt's schedule)."""
        return [
            a
            for a in self.attempts.values()
            if a.status in OPEN and a.next_query_at is not None and a.next_query_at <= now
        ]

    def claim_for_query(self, attempt: MAttempt, now: datetime) -> None:
        attempt.query_count += 1
        expires_at = self.payments[attempt.payment_id].expires_at
        attempt.next_query_at = next_query(attempt.started, expires_at, now)
        if attempt.next_query_at is None:
            attempt.left_for_review_at = now

    def choice(self, payment: MPayment, provider: Provider, now: datetime) -> MAttempt | str | None:
        """Choosing ``provider`` again: its open attempt (to reuse), a refusal, or None (new).

        The payer here always confirms a second try while another may still take the money;
        once part of a transfer came, only a transfer may bring the rest."""
        if payment.received > 0 and provider is not Provider.VIETQR:
            return "transfer_only"
        mine = [self.attempts[i] for i in payment.attempts]
        for attempt in reversed(mine):
            if (
                attempt.provider is provider
                and attempt.status in OPEN
                and (provider is Provider.VIETQR or now < attempt.started + REUSE_WINDOW)
            ):
                return attempt if attempt.page else "in_progress"
        return "too_many" if len(mine) >= MAX_ATTEMPTS else None

    def expire(self, now: datetime) -> list[str]:
        due = [p for p in self.payments.values() if p.status in PAYABLE and p.expires_at <= now]
        for payment in due:
            payment.status = S.EXPIRED
        return [p.id for p in due]
