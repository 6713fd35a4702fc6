"""Rules: the clock's work (time passing, providers going down, requery rounds, expiry
sweeps) and sealing the journal."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from payments.collection.usecases import payments as payment_service
from payments.domain.attempts import AttemptStatus, Provider, Result
from payments.ledger.verification import seal_journal
from tests.integration.lifecycle.machine import LifecycleBase


class ClockRules(LifecycleBase):
    @rule(minutes=st.sampled_from([1, 2, 6, 31, 121]))
    def time_passes(self, minutes: int) -> None:
        self.tick(minutes=minutes)

    @rule(provider=st.sampled_from([Provider.VNPAY, Provider.MOMO]), down=st.booleans())
    def provider_up_or_down(self, provider: Provider, down: bool) -> None:
        """Provider timeouts: its status queries (and refund calls) time out while down."""
        (self.world.down.add if down else self.world.down.discard)(provider)
        self.world.desks[provider].down = down

    @rule()
    def requery_round(self) -> None:
        due = self.gw.due_for_query(self.now)
        for attempt in due:
            self.gw.claim_for_query(attempt, self.now)
        report = self.run(self.drive.requery(self.now))
        assert report.asked == len(due)
        # Two open attempts of one payment may both have been paid, and a round asks them in
        # an order of its own: the first one applied wins, as the gateway says it did.
        statuses = self.run(self._attempt_statuses([a.id for a in due]))
        due.sort(key=lambda a: statuses[a.id].value != "succeeded")
        for attempt in due:
            truth = self.world.truth[attempt.ref]
            if attempt.provider in self.world.down:
                self.gw.unanswered(attempt)
                continue
            result = truth.state or Result.PENDING
            self.gw.outcome(attempt, result, truth.amount, "VND", self.now)

    async def _attempt_statuses(self, ids: list[str]) -> dict[str, AttemptStatus]:
        found: dict[str, AttemptStatus] = {}
        async with self.uow() as uow:
            for attempt_id in ids:
                attempt = await uow.attempts.get(attempt_id)
                assert attempt is not None
                found[attempt_id] = attempt.status
        return found

    @rule()
    def expiry_sweep(self) -> None:
        expired = self.gw.expire(self.now)
        count = self.run(payment_service.expire_due_payments(self.uow, now=self.now))
        assert count == len(expired)

    @rule()
    def seal(self) -> None:
        async def go() -> None:
            async with self.uow() as uow:
                await seal_journal(uow.ledger, now=self.now, batch=20)
                await uow.commit()

        self.run(go())
