"""Rules: finance officers' refunds (partial, concurrent, above the approval threshold,
approved or rejected) and what the providers do with them (made, refused, pending, lost)."""

from __future__ import annotations

import asyncio

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from payments.domain.access import Caller
from payments.domain.attempts import Provider, Result
from payments.domain.errors import Conflict, NotPermitted, PreconditionFailed
from payments.refunds.rules.lifecycle import Refund, RefundStatus
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund, process_due_refunds
from tests.integration.lifecycle.machine import LifecycleBase
from tests.integration.lifecycle.model import MPayment
from tests.integration.lifecycle.model_refunds import MRefund
from tests.support.refund_support import ask

R = RefundStatus
MODES = ["ok", "ok", "ok", "fail", "pending", "timeout_made", "timeout_lost"]


class RefundRules(LifecycleBase):
    def _paid(self, at: int) -> MPayment | None:
        paid = [p for p in self.gw.payments.values() if p.status.value == "succeeded"]
        every = list(self.gw.payments.values())
        pool = paid if paid and at % 5 else every
        return pool[at % len(pool)] if pool else None

    def _officer_of(self, payment: MPayment, key: int) -> Caller:
        return self.officer(0 if payment.agency_id == self.portals[0].agency_id else 1, key)

    def _modes(self, mode: str) -> None:
        for desk in self.world.desks.values():
            desk.mode = mode

    @precondition(lambda self: self.gw.payments)
    @rule(
        at=st.integers(0, 10**6),
        quarters=st.integers(1, 5),
        big=st.booleans(),
        key=st.integers(1, 3),
        mode=st.sampled_from(MODES),
        stale=st.sampled_from([False] * 5 + [True]),
    )
    def ask_refund(
        self, at: int, quarters: int, big: bool, key: int, mode: str, stale: bool
    ) -> None:
        payment = self._paid(at)
        assert payment is not None
        if payment.id in self.gw.cross_excess:
            # BUG (machine-findings.md, finding 1): such a refund goes through the wrong
            # provider and takes its clearing account below zero.
            return
        available = self.refunds.totals(payment)[2]
        amount = max(1, available * quarters // 4)
        if big:
            amount = max(amount, 1_000_001)  # above the approval threshold
        self._modes(mode)
        who = self._officer_of(payment, key)
        expected_available = available + 1 if stale else available
        call = ask(
            self.uow, who, payment.id, amount, self.now, expected_available=expected_available
        )
        asked = self.refunds.ask(payment, amount)
        if asked.refused in ("not paid", "passed on to the treasury"):
            self.refused(call, Conflict)
            return
        if stale:
            self.refused(call, PreconditionFailed)
            return
        if asked.refused is not None:
            self.refused(call, Conflict)
            return
        made = self.run(call).refund
        assert made is not None
        self._adopt(made.id, payment, amount, asked.attempt_id, asked.from_excess, who, made)
        self.tick()

    def _adopt(
        self,
        refund_id: str,
        payment: MPayment,
        amount: int,
        attempt_id: str,
        from_excess: int,
        who: Caller,
        made: Refund,
    ) -> None:
        assert (made.attempt_id, made.from_excess) == (attempt_id, from_excess)
        waits = amount > 1_000_000
        refund = MRefund(
            refund_id,
            payment.id,
            attempt_id,
            self.gw.attempts[attempt_id].provider,
            amount,
            from_excess,
            R.AWAITING_APPROVAL if waits else R.APPROVED,
            who.actor,
            None if waits else self.now,
        )
        self.refunds.add(refund)
        self._execute(refund)

    def _execute(self, refund: MRefund) -> None:
        """What asking and approving do next: try to send it at once."""
        self.refunds.execute(refund, self.now)
        self.run(execute_refund(self.uow, self.drive.refund_providers, refund.id, now=self.now))

    @precondition(lambda self: self.gw.payments)
    @rule(at=st.integers(0, 10**6), first=st.integers(1, 4), second=st.integers(1, 4))
    def ask_at_once(self, at: int, first: int, second: int) -> None:
        """Two officers refund the same payment at the same moment."""
        payment = self._paid(at)
        assert payment is not None
        if payment.overpaid or payment.status.value != "succeeded":
            return  # the split between excess and budget would depend on who came first
        if payment.id in self.refunds.passed_on:
            return
        available = self.refunds.totals(payment)[2]
        amounts = [max(1, available * first // 4), max(1, available * second // 4)]
        self._modes("ok")
        who = [self._officer_of(payment, 1), self._officer_of(payment, 2)]

        async def both() -> list[object]:
            calls = [
                ask(self.uow, w, payment.id, a, self.now) for w, a in zip(who, amounts, strict=True)
            ]
            return list(await asyncio.gather(*calls, return_exceptions=True))

        answers = self.run(both())
        made = [
            (a, w, r)
            for a, w, r in zip(amounts, who, answers, strict=True)
            if not isinstance(r, BaseException)
        ]
        for answer in answers:
            assert not isinstance(answer, BaseException) or isinstance(answer, Conflict), answer
        assert sum(a for a, _, _ in made) <= available
        fits = [a for a in amounts if a <= available]
        assert len(made) == (2 if sum(amounts) <= available else min(1, len(fits)))
        won = self.gw.succeeded_attempt(payment)
        assert won is not None
        for amount, officer, answer in made:
            assert isinstance(answer, service.RefundAsked)
            assert answer.refund is not None
            refund = answer.refund
            self._adopt(refund.id, payment, amount, won.id, 0, officer, refund)
        self.tick()

    def _refund(self, at: int) -> MRefund | None:
        every = list(self.refunds.refunds.values())
        waiting = [r for r in every if r.status is R.AWAITING_APPROVAL]
        pool = waiting if waiting and at % 4 else every
        return pool[at % len(pool)] if pool else None

    @precondition(lambda self: self.refunds.refunds)
    @rule(
        at=st.integers(0, 10**6),
        key=st.integers(1, 3),
        approve=st.booleans(),
        mode=st.sampled_from(MODES),
    )
    def decide(self, at: int, key: int, approve: bool, mode: str) -> None:
        refund = self._refund(at)
        assert refund is not None
        payment = self.gw.payments[refund.payment_id]
        who = self._officer_of(payment, key)
        act = service.approve_refund if approve else service.reject_refund
        call = act(self.uow, who, refund.id, note="four eyes", now=self.now)
        if approve and who.actor == refund.requested_by:
            self.refused(call, NotPermitted)
        elif refund.status is not R.AWAITING_APPROVAL:
            if refund.decided == (who.actor, approve):
                self.unchanged(call)
            else:
                self.refused(call, Conflict)
        elif approve and refund.from_budget and refund.payment_id in self.refunds.passed_on:
            self.refused(call, Conflict)
        else:
            self._modes(mode)
            refund.decided = (who.actor, approve)
            (self.refunds.approve(refund, self.now) if approve else self.refunds.reject(refund))
            self.run(call)
            if approve:
                self._execute(refund)
        self.tick()

    @rule(mode=st.sampled_from(MODES), minutes=st.sampled_from([0, 1, 5, 30, 120]))
    def refund_run(self, mode: str, minutes: int) -> None:
        """The worker's background run: sends what is due, asks about the rest."""
        self.tick(minutes=minutes)
        self._modes(mode)
        self.refunds.background(self.now)
        self.run(process_due_refunds(self.uow, self.drive.refund_providers, now=self.now))

    @rule(at=st.integers(0, 10**6), outcome=st.sampled_from([Result.SUCCEEDED, Result.FAILED]))
    def provider_settles_refund(self, at: int, outcome: Result) -> None:
        """A refund the provider had pending is done (or refused) on its side."""
        pending = [
            (desk, rid)
            for desk in self.world.desks.values()
            for rid, state in desk.records.items()
            if state is Result.PENDING
        ]
        if pending:
            desk, rid = pending[at % len(pending)]
            desk.records[rid] = outcome

    @precondition(lambda self: self.refunds.refunds)
    @rule(at=st.integers(0, 10**6), made=st.booleans())
    def transfer_done(self, at: int, made: bool) -> None:
        """Finance says a VietQR refund's outgoing transfer was made, or could not be."""
        vietqr = [r for r in self.refunds.refunds.values() if r.provider is Provider.VIETQR]
        if not vietqr:
            return
        refund = vietqr[at % len(vietqr)]
        who = self._officer_of(self.gw.payments[refund.payment_id], 1)
        if made:
            call = service.confirm_refund(self.uow, who, refund.id, note=None, now=self.now)
            ok, done = refund.status is R.SUBMITTED, refund.status is R.SUCCEEDED
        else:
            call = service.fail_refund_transfer(
                self.uow, who, refund.id, note="account closed", now=self.now
            )
            ok, done = refund.status is R.SUBMITTED, refund.status is R.FAILED
        if done:
            self.unchanged(call)
        elif not ok:
            self.refused(call, Conflict)
        else:
            (self.refunds.confirm if made else self.refunds.transfer_failed)(refund)
            self.run(call)
