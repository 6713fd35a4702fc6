"""The ledger against a pure-Python reference model, on SQLite and PostgreSQL.

Hypothesis chooses steps (post balanced, post unbalanced, reverse, reverse twice, replay the
same, replay different, seal and verify); after every step the real ledger must agree with the
model and satisfy every invariant. Examples share one database and keep apart by account
codes and source keys of their own, so ledger-wide invariants still cover every example.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from payments.adapters.db.engine import make_engine
from payments.ledger.entries import EntryDraft
from payments.ledger.errors import AlreadyReversed, SourceKeyConflict, UnbalancedEntry
from payments.ledger.posting import post_entry, reverse_entry
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.tables import ledger_chain, ledger_unsealed
from payments.ledger.verification import seal_journal, verify_ledger
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.ledger.loop_thread import LoopThread
from tests.support.ledger_reference_model import Outcome, ReferenceLedger
from tests.support.ledger_strategies import T0, accounts_for, drafts


class LedgerMachine(RuleBasedStateMachine):
    loop: LoopThread
    uow_factory: SqlUnitOfWorkFactory

    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"m{uuid.uuid4().hex[:10]}"
        self.accounts = accounts_for(self.prefix)
        self.model = ReferenceLedger()
        self.ids: dict[str, int] = {}  # source key -> entry id in the real ledger
        self.counter = 0

    def new_key(self) -> str:
        self.counter += 1
        return f"{self.prefix}-{self.counter}"

    def attempt(self, draft: EntryDraft, reverses: str | None = None) -> Outcome:
        """Run the real write path in its own transaction; name the outcome as the model does."""

        async def go() -> Outcome:
            async with self.uow_factory() as uow:
                try:
                    if reverses is None:
                        posted = await post_entry(uow.ledger, draft, now=T0)
                    else:
                        posted = await reverse_entry(
                            uow.ledger, self.ids[reverses], now=T0, source_key=draft.source_key
                        )
                except UnbalancedEntry:
                    return Outcome.INVALID
                except SourceKeyConflict:
                    return Outcome.CONFLICT
                except AlreadyReversed:
                    return Outcome.ALREADY_REVERSED
                await uow.commit()
            known = self.ids.setdefault(draft.source_key, posted.entry.id)
            assert known == posted.entry.id
            return Outcome.REPLAYED if posted.replayed else Outcome.CREATED

        return self.loop.run(go())

    def check(self, draft: EntryDraft, reverses: str | None = None) -> Outcome:
        actual = self.attempt(draft, reverses)
        expected = self.model.post(draft, reverses)
        assert actual == expected
        return actual

    @rule(data=st.data())
    def post_balanced(self, data: st.DataObject) -> None:
        assert self.check(data.draw(drafts(self.accounts, self.new_key()))) == Outcome.CREATED

    @rule(data=st.data())
    def post_unbalanced(self, data: st.DataObject) -> None:
        draft = data.draw(drafts(self.accounts, self.new_key(), balanced=False))
        assert self.check(draft) == Outcome.INVALID

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model.entries)))
        self.check(self._reversal(key, f"reversal:{self.ids[key]}"), reverses=key)

    @precondition(lambda self: self.model.reversal_by_original)
    @rule(data=st.data())
    def reverse_twice(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model.reversal_by_original)))
        outcome = self.check(self._reversal(key, self.new_key()), reverses=key)
        assert outcome == Outcome.ALREADY_REVERSED

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data())
    def replay_same(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model.entries)))
        entry = self.model.entries[key]
        assert self.check(entry.draft, entry.reverses) == Outcome.REPLAYED

    @precondition(lambda self: any(e.reverses is None for e in self.model.entries.values()))
    @rule(data=st.data())
    def replay_different(self, data: st.DataObject) -> None:
        plain = sorted(k for k, e in self.model.entries.items() if e.reverses is None)
        key = data.draw(st.sampled_from(plain))
        other = data.draw(drafts(self.accounts, key))
        # Almost always a conflict; a draw identical to the original is a plain replay.
        expected = self.model.post(other)
        assert expected in (Outcome.CONFLICT, Outcome.REPLAYED)
        assert self.attempt(other) == expected

    @rule()
    def seal_and_verify(self) -> None:
        async def go() -> None:
            async with self.uow_factory() as uow:
                await seal_journal(uow.ledger, now=T0, batch=50)
                await uow.commit()
            async with ledger_snapshot(self.uow_factory.engine) as store:
                report = await verify_ledger(store)
            assert report.ok, [str(p) for p in report.problems]

        self.loop.run(go())

    def _reversal(self, key: str, source_key: str) -> EntryDraft:
        original = self.model.entries[key].draft
        return EntryDraft(
            source_key=source_key,
            description=f"Reversal of entry {self.ids[key]}: {original.description}",
            occurred_at=T0,
            legs=self.model.inverse_legs(key),
        )

    @invariant()
    def balances_match_the_model(self) -> None:
        async def go() -> tuple[dict[str, int], Counter[str]]:
            async with self.uow_factory() as uow:
                totals = await uow.ledger.totals(as_of=None)
            mine = {t.account.code: t.net for t in totals if t.account.code in self.codes}
            per_currency: Counter[str] = Counter()
            for t in totals:
                per_currency[t.account.currency] += t.net
            return mine, per_currency

        mine, per_currency = self.loop.run(go())
        expected = self.model.nets()
        assert {c: n for c, n in mine.items() if n} == {c: n for c, n in expected.items() if n}
        assert all(total == 0 for total in per_currency.values()), per_currency
        assert all(total == 0 for total in self.model.nets_by_currency().values())

    @invariant()
    def queue_holds_exactly_the_unsealed_entries(self) -> None:
        """Each of this example's entries is either sealed or queued for sealing, never both."""
        mine = set(self.ids.values())

        async def go() -> tuple[set[int], set[int]]:
            async with self.uow_factory.engine.connect() as conn:
                queued = await conn.scalars(
                    select(ledger_unsealed.c.entry_id).where(ledger_unsealed.c.entry_id.in_(mine))
                )
                sealed = await conn.scalars(
                    select(ledger_chain.c.entry_id).where(ledger_chain.c.entry_id.in_(mine))
                )
                return set(queued), set(sealed)

        queued, sealed = self.loop.run(go())
        assert queued == mine - sealed

    @property
    def codes(self) -> set[str]:
        return {a.code for a in self.accounts}


@pytest.mark.slow
def test_ledger_agrees_with_the_reference_model(database_url: str) -> None:
    loop = LoopThread()
    engine = make_engine(database_url, pool_size=2)

    class Machine(LedgerMachine):
        pass

    Machine.loop = loop
    Machine.uow_factory = SqlUnitOfWorkFactory(engine)
    options: dict[str, Any] = {
        "max_examples": 25,
        "stateful_step_count": 15,
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    }
    try:
        run_state_machine_as_test(Machine, settings=settings(**options))
    finally:
        loop.run(engine.dispose())
        loop.close()
