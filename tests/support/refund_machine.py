"""Refunds as a state machine: Hypothesis interleaves payments, refund requests, approvals,
rejections, provider answers (success, failure, timeout, pending, not found), duplicate and
late answers, background runs, VietQR confirmations and the passing of time. After every
step, on what the unit of work reads back:

- the live refunds of a payment (succeeded or in flight) sum to at most what it captured;
- the ledger balances, and what this example moved on it agrees with the refunds' statuses;
- every refund is terminal, or visibly in flight: a next action scheduled, or waiting for
  a person (an approval, a transfer confirmation);
- the provider never got a refund twice, except again after it said it never got it.

The machine is run twice: on the in-memory fakes (tests/unit/test_refund_machine.py) and on
SQLite and PostgreSQL (tests/integration/test_refund_machine_db.py). A run subclasses it
with its unit-of-work factory, its way of running a coroutine and its start time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from payments.domain.attempts import Attempt, Provider
from payments.domain.errors import Conflict, NotPermitted, PreconditionFailed
from payments.domain.payments import Payment
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundOutcome,
    RefundPending,
    RefundRequest,
    RefundSucceeded,
    RefundUnknown,
)
from payments.providers.refunds import (
    RefundStatus as ProviderAnswer,
)
from payments.providers.vietqr.provider import VietqrConfig, VietqrProvider
from payments.refunds.rules.lifecycle import (
    BOOKED,
    IN_FLIGHT,
    TERMINAL,
    Refund,
    RefundStatus,
    captured_amount,
    scheduled_or_waiting,
)
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund, process_due_refunds, record_outcome
from payments.unit_of_work import WorkFactory
from tests.support.refund_support import Paid, Providers, ask, paid_payment

T = TypeVar("T")
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
MODES = ["success", "failure", "pending", "timeout"]


def answer(mode: str, request: RefundRequest) -> RefundOutcome:
    if mode == "success":
        return RefundSucceeded(request.amount, f"R-{request.request_id}", "00")
    if mode == "failure":
        return RefundFailed("99", "refused")
    if mode == "pending":
        return RefundPending("94", "later")
    return RefundUnknown("timeout")


class ModeProvider:
    """Answers what the machine's last rule chose, and counts what it got."""

    refunds_told_apart = True  # answers by request id, like MoMo

    def __init__(self) -> None:
        self.refund_mode = "success"
        self.status_mode = "success"
        self.sent: Counter[str] = Counter()
        self.not_found: Counter[str] = Counter()

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        self.sent[request.request_id] += 1
        return answer(self.refund_mode, request)

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> ProviderAnswer:
        if self.status_mode == "not_found" or not self.sent[request.request_id]:
            self.not_found[request.request_id] += 1
            return RefundNotFound("no such refund")
        return answer(self.status_mode, request)


@dataclass(frozen=True)
class Stored:
    """What the storage holds for this example's payments, read in one unit of work."""

    payments: list[Payment]
    attempts: list[Attempt]
    refunds: list[Refund]
    nets: Counter[str]  # every ledger account: debits minus credits


async def ledger_nets(uow_factory: WorkFactory) -> Counter[str]:
    async with uow_factory() as uow:
        totals = await uow.ledger.totals(as_of=None)
    return Counter({t.account.code: t.net for t in totals})


class RefundMachine(RuleBasedStateMachine):
    """The rules and invariants; a subclass says where the storage is and how to run."""

    payments = Bundle("payments")
    refunds = Bundle("refunds")

    def unit_of_work(self) -> WorkFactory:
        """The storage of this example (called once, when it starts)."""
        raise NotImplementedError

    def start(self) -> datetime:
        """The time this example starts at."""
        raise NotImplementedError

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.uow = self.unit_of_work()
        self.now = self.start()
        self.card = ModeProvider()
        self.wallet = ModeProvider()
        vietqr = VietqrProvider(VietqrConfig("970415", "113366668888", "KBNN", "secret"))
        self.providers = Providers(
            {Provider.VNPAY: self.card, Provider.MOMO: self.wallet, Provider.VIETQR: vietqr}
        )
        self.paid: list[Paid] = []
        # A database may hold earlier examples' entries on the shared accounts (clearing,
        # refunds payable): the ledger invariant looks at what this example moved.
        self.nets_before = self.run(ledger_nets(self.uow))

    # --- payments and requests ------------------------------------------------------------

    @rule(
        target=payments,
        amount=st.sampled_from([150_000, 2_000_000]),
        provider=st.sampled_from(list(Provider)),
    )
    def pay(self, amount: int, provider: Provider) -> Paid:
        paid = self.run(paid_payment(self.uow, self.now, amount=amount, provider=provider))
        self.paid.append(paid)
        return paid

    @rule(
        target=refunds,
        paid=payments,
        amount=st.integers(1, 2_500_000),
        quarters=st.integers(0, 5),
        officer=st.integers(1, 3),
        stale=st.sampled_from([False, False, False, True]),
    )
    def request(self, paid: Paid, amount: int, quarters: int, officer: int, stale: bool) -> str:
        summary = self.run(service.payment_refunds(self.uow, paid.officer(1), paid.payment.id))
        if quarters:
            # Quarters of what is left: all of it (a full refund when nothing went before)
            # and just past it come up often, not only by chance.
            amount = max(1, summary.totals.available * quarters // 4)
        expected = summary.totals.available + (1 if stale else 0)
        try:
            asked = self.run(
                ask(self.uow, paid.officer(officer), paid.payment.id, amount, self.now,
                    expected_available=expected)
            )  # fmt: skip
        except PreconditionFailed:
            assert stale
            return ""
        except Conflict:
            assert amount > summary.totals.available
            return ""
        assert not stale
        assert amount <= summary.totals.available
        assert asked.refund is not None
        return asked.refund.id

    @rule(refund_id=refunds, officer=st.integers(1, 3), approve=st.booleans())
    def decide(self, refund_id: str, officer: int, approve: bool) -> None:
        if not refund_id:
            return
        refund, paid = self.find(refund_id)
        act = service.approve_refund if approve else service.reject_refund
        try:
            decided = self.run(
                act(self.uow, paid.officer(officer), refund_id, note=None, now=self.now)
            )
        except NotPermitted:
            assert approve
            assert refund.requested_by == paid.officer(officer).actor
            return
        except Conflict:
            assert refund.status is not RefundStatus.AWAITING_APPROVAL
            return
        actor = paid.officer(officer).actor
        assert actor in (decided.approved_by, decided.rejected_by)
        assert decided.requested_by != decided.approved_by

    # --- execution and provider answers ----------------------------------------------------

    @rule(refund_id=refunds, mode=st.sampled_from(MODES))
    def send(self, refund_id: str, mode: str) -> None:
        if not refund_id:
            return
        self.card.refund_mode = self.wallet.refund_mode = mode
        self.run(execute_refund(self.uow, self.providers, refund_id, now=self.now))

    @rule(
        refund_mode=st.sampled_from(MODES),
        status_mode=st.sampled_from([*MODES, "not_found"]),
        minutes=st.sampled_from([0, 1, 3, 30, 24 * 60]),
    )
    def background_run(self, refund_mode: str, status_mode: str, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.card.refund_mode = self.wallet.refund_mode = refund_mode
        self.card.status_mode = self.wallet.status_mode = status_mode
        self.run(process_due_refunds(self.uow, self.providers, now=self.now))

    @rule(refund_id=refunds, mode=st.sampled_from(["success", "failure", "pending", "timeout"]))
    def duplicate_or_late_answer(self, refund_id: str, mode: str) -> None:
        """A provider answer about a refund we sent, arriving again or late."""
        if not refund_id:
            return
        refund, _ = self.find(refund_id)
        provider = self.card if refund.provider == "vnpay" else self.wallet
        if refund.provider == "vietqr" or not provider.sent[refund.request_id]:
            return  # a provider only answers about a refund it got
        request = RefundRequest(
            attempt=replace(self.attempt(refund.attempt_id), amount=refund.captured_amount),
            amount=refund.amount,
            full=refund.full,
            request_id=refund.request_id,
            reason=refund.reason,
            actor=refund.requested_by,
            requested_at=refund.provider_requested_at or self.now,
        )
        before = refund.status
        after = self.run(record_outcome(self.uow, refund_id, answer(mode, request), now=self.now))
        if before in TERMINAL:
            assert after == refund  # settled stays settled, nothing posted

    @rule(refund_id=consumes(refunds))
    def confirm_transfer(self, refund_id: str) -> None:
        if not refund_id:
            return
        refund, paid = self.find(refund_id)
        admin = paid.officer(9)
        try:
            done = self.run(
                service.confirm_refund(self.uow, admin, refund_id, note=None, now=self.now)
            )
        except Conflict:
            assert refund.status not in (RefundStatus.SUBMITTED, RefundStatus.SUCCEEDED)
            return
        assert done.status is RefundStatus.SUCCEEDED

    # --- reading back -----------------------------------------------------------------------

    def find(self, refund_id: str) -> tuple[Refund, Paid]:
        async def get() -> Refund | None:
            async with self.uow() as uow:
                return await uow.refunds.get(refund_id)

        refund = self.run(get())
        assert refund is not None, refund_id
        paid = next(p for p in self.paid if p.payment.id == refund.payment_id)
        return refund, paid

    def attempt(self, attempt_id: str) -> Attempt:
        async def get() -> Attempt | None:
            async with self.uow() as uow:
                return await uow.attempts.get(attempt_id)

        found = self.run(get())
        assert found is not None, attempt_id
        return found

    async def load(self) -> Stored:
        payments: list[Payment] = []
        attempts: list[Attempt] = []
        refunds: list[Refund] = []
        async with self.uow() as uow:
            for paid in self.paid:
                payment = await uow.payments.by_id(paid.payment.id)
                assert payment is not None
                payments.append(payment)
                attempts += await uow.attempts.for_payment(payment.id)
                refunds += await uow.refunds.for_payment(payment.id)
            totals = await uow.ledger.totals(as_of=None)
        nets = Counter({t.account.code: t.net for t in totals})
        return Stored(payments, attempts, refunds, nets)

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def what_is_stored_keeps_the_invariants(self) -> None:
        # One read per step for the four checks: on a database each read is a transaction.
        stored = self.run(self.load())
        self.refunds_never_exceed_the_capture(stored)
        self.the_ledger_balances_and_agrees_with_the_refunds(stored)
        self.every_refund_is_settled_or_visibly_in_flight(stored)
        self.a_refund_is_sent_again_only_after_not_found()

    def refunds_never_exceed_the_capture(self, stored: Stored) -> None:
        for payment in stored.payments:
            mine = [r for r in stored.refunds if r.payment_id == payment.id]
            live = sum(r.amount for r in mine if r.status in IN_FLIGHT | {RefundStatus.SUCCEEDED})
            assert live <= captured_amount(payment)

    def the_ledger_balances_and_agrees_with_the_refunds(self, stored: Stored) -> None:
        assert sum(stored.nets.values()) == 0
        moved = {code: stored.nets[code] - self.nets_before[code] for code in stored.nets}
        booked = sum(r.amount for r in stored.refunds if r.status in BOOKED)
        assert moved.get("refunds-payable", 0) == -booked
        for provider in Provider:
            via = {a.payment_id for a in stored.attempts if a.provider is provider}
            captured = sum(p.draft.amount for p in stored.payments if p.id in via)
            paid_back = sum(
                r.amount
                for r in stored.refunds
                if r.provider == provider.value and r.status is RefundStatus.SUCCEEDED
            )
            assert moved.get(f"clearing:{provider.value}", 0) == captured - paid_back

    def every_refund_is_settled_or_visibly_in_flight(self, stored: Stored) -> None:
        for refund in stored.refunds:
            assert scheduled_or_waiting(refund), refund
            if refund.status in (RefundStatus.PENDING, RefundStatus.UNKNOWN):
                assert refund.next_action_at is not None
                assert refund.next_action_at <= self.now + timedelta(days=1)

    def a_refund_is_sent_again_only_after_not_found(self) -> None:
        for provider in (self.card, self.wallet):
            for request_id, count in provider.sent.items():
                assert count <= 1 + provider.not_found[request_id], request_id
