"""Rules: the night (treasury statement and settlement reports arrive, the day is reconciled,
the providers are asked about unknown credits), reruns, corrected reports, resolutions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from payments.domain.attempts import Provider, Result
from payments.domain.errors import Conflict
from payments.reconcile.ports import ItemState
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.usecases.reports import resolve_item
from tests.integration.lifecycle import invariants
from tests.integration.lifecycle.files import (
    LINE_KINDS,
    REPORT_KINDS,
    Owed,
    night_of,
    settlement_report,
)
from tests.integration.lifecycle.machine import MORNING, LifecycleBase
from tests.integration.lifecycle.model import OPEN, QUERYABLE, MAttempt
from tests.integration.lifecycle.readback import load
from tests.integration.lifecycle.recon_match import due, item_key

KINDS = st.lists(st.sampled_from(LINE_KINDS), min_size=6, max_size=6)
REPORTS = st.lists(st.sampled_from(REPORT_KINDS), min_size=6, max_size=6)


class NightRules(LifecycleBase):
    def _owed(self, day: date) -> list[Owed]:
        """What the treasury receives for the day: each payment a provider took money for,
        less what was refunded out of the budget's share of it."""
        found = []
        for taking in self.world.takings.values():
            if due(taking.at) != day:
                continue
            payment = self.gw.payments[taking.payment_id]
            paid_back = self.refunds.paid_from_budget(payment.id)
            if paid_back >= payment.amount:
                continue  # refunded in full: nothing reaches the treasury
            reference = taking.ref if taking.provider is Provider.VIETQR else payment.id
            found.append(
                Owed(
                    payment.id,
                    reference,
                    payment.amount - paid_back,
                    payment.currency,
                    taking.provider,
                )
            )
        return sorted(found, key=lambda o: o.payment_id)

    @rule(
        kinds=KINDS,
        report_kinds=REPORTS,
        skip=st.sampled_from([None] * 5 + list(Provider)),
        stranger=st.booleans(),
    )
    def night(
        self, kinds: list[str], report_kinds: list[str], skip: Provider | None, stranger: bool
    ) -> None:
        day, now = self.day, night_of(self.day)
        self.now = now
        owed = self._owed(day)
        line_kinds = {o.payment_id: kinds[i % len(kinds)] for i, o in enumerate(owed)}
        statements = self.treasury.statements(day, owed, line_kinds, stranger)
        model = self.recon.day(day)
        for statement in statements:
            imported = self.run(
                self.drive.import_treasury(statement.content, statement.currency, day, now)
            )
            assert imported.created
            model.statements.append(statement.lines)
        self.statement_files[day] = [(s.currency, s.content) for s in statements]
        taken = {t.ref: report_kinds[i % len(report_kinds)] for i, t in enumerate(self.world.taken)}
        for provider in Provider:
            if provider is skip:
                continue  # the provider's report did not come
            batched = {
                o.payment_id
                for o in owed
                if line_kinds[o.payment_id] == "batch" and o.provider is provider
            }
            self._report(provider, day, taken, batched, now)
        self._run(day, now)
        self.day = DEFAULT_CALENDAR.next_business_day(day + timedelta(days=1))
        self.now = datetime.combine(self.day, datetime.min.time(), tzinfo=UTC) + MORNING

    def _report(
        self,
        provider: Provider,
        day: date,
        kinds: dict[str, str],
        batched: set[str],
        now: datetime,
    ) -> None:
        _, lines, content = settlement_report(self.world, provider, day, kinds, batched)
        imported = self.run(self.drive.import_report(provider.value, content, day, now))
        if imported.created:
            self.recon.day(day).reports[provider.value] = lines

    def _run(self, day: date, now: datetime) -> None:
        """Run the day; then the run asks the providers about the open attempts its unknown
        lines name (a provider's line: only that provider's)."""
        asks = self.recon.run(day)
        result = self.run(self.drive.run_day(day, now))
        assert result.run.business_date == day
        confirmed = []
        for reference, provider in asks:
            for attempt in self._named(reference):
                if provider is not None and attempt.provider.value != provider:
                    continue
                truth = self.world.truth[attempt.ref]
                if attempt.provider in self.world.down or truth.state is not Result.SUCCEEDED:
                    continue
                self.gw.outcome(attempt, truth.state, truth.amount, "VND", now)
                confirmed.append(attempt.payment_id)
        assert sorted(result.confirmed) == sorted(confirmed)

    def _named(self, reference: str | None) -> list[MAttempt]:
        if reference is None:
            return []
        if reference.startswith("att_"):
            found = [a for a in self.gw.attempts.values() if a.id == reference]
        elif reference.startswith("pay_"):
            payment = self.gw.payments.get(reference)
            found = [self.gw.attempts[i] for i in payment.attempts] if payment else []
        else:
            found = [a for a in self.gw.attempts.values() if a.ref == reference]
        return [a for a in found if a.status in OPEN and a.provider in QUERYABLE]

    def _past(self, at: int) -> date | None:
        days = sorted(d for d, model in self.recon.days.items() if model.items is not None)
        return days[at % len(days)] if days else None

    @precondition(lambda self: self.recon.days)
    @rule(at=st.integers(0, 10**6))
    def rerun(self, at: int) -> None:
        """An operator runs a past day again: same report, nothing posted twice."""
        day = self._past(at)
        if day is not None:
            self._run(day, self.now)
            self.tick()

    @precondition(lambda self: self.recon.days)
    @rule(at=st.integers(0, 10**6), provider=st.sampled_from(list(Provider)))
    def corrected_report(self, at: int, provider: Provider) -> None:
        """A provider sends its report of a past day again, corrected; the day is rerun."""
        day = self._past(at)
        if day is None:
            return
        self._report(provider, day, {}, set(), self.now)
        self._run(day, self.now)
        self.tick()

    @precondition(lambda self: self.statement_files)
    @rule(at=st.integers(0, 10**6))
    def statement_again(self, at: int) -> None:
        """The treasury's file of a past night is imported again: nothing new is stored."""
        day = sorted(self.statement_files)[at % len(self.statement_files)]
        currency, content = self.statement_files[day][0]
        imported = self.unchanged(self.drive.import_treasury(content, currency, day, self.now))
        assert not imported.created

    @precondition(lambda self: self.recon.days)
    @rule(at=st.integers(0, 10**6), again=st.booleans())
    def resolve(self, at: int, again: bool) -> None:
        """Treasury staff resolve an open exception with a note (or try a settled item)."""
        day = self._past(at)
        if day is None:
            return
        stored = self.run(load(self.uow, [], [day]))
        items = stored.items.get(day, [])
        open_ = [i for i in items if i.state is ItemState.OPEN]
        if open_ and not again:
            item = open_[at % len(open_)]
            self.recon.day(day).resolved.add(item_key(invariants.items_of_one(item)))
            self.run(
                resolve_item(
                    self.uow, item.id, note="chased with the bank", actor="treasury:1", now=self.now
                )
            )
        elif items:
            done = [i for i in items if i.state is not ItemState.OPEN] or items
            item = done[at % len(done)]
            if item.state is ItemState.OPEN:
                return
            self.refused(
                resolve_item(self.uow, item.id, note="again", actor="treasury:2", now=self.now),
                Conflict,
            )
        self.tick()
