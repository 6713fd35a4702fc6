"""Hypothesis properties of the stored ledger (invariants 1, 2, 3, 7, 8), on both databases."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.adapters.db.engine import make_engine
from payments.ledger.entries import EntryDraft
from payments.ledger.errors import UnbalancedEntry
from payments.ledger.ports import AccountTotals
from payments.ledger.posting import post_entry
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.ledger.loop_thread import LoopThread
from tests.support.ledger_strategies import T0, accounts_for, drafts

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def ledger_db(database_url: str) -> Iterator[tuple[LoopThread, SqlUnitOfWorkFactory]]:
    loop = LoopThread()
    engine = make_engine(database_url, pool_size=2)
    yield loop, SqlUnitOfWorkFactory(engine)
    loop.run(engine.dispose())
    loop.close()


async def _post_all(uow_factory: SqlUnitOfWorkFactory, batch: list[EntryDraft]) -> None:
    async with uow_factory() as uow:
        for draft in batch:
            await post_entry(uow.ledger, draft, now=T0)
        await uow.commit()


async def _totals(uow_factory: SqlUnitOfWorkFactory, as_of: datetime | None) -> list[AccountTotals]:
    async with uow_factory() as uow:
        return list(await uow.ledger.totals(as_of=as_of))


@st.composite
def journals(draw: st.DrawFn) -> tuple[str, list[EntryDraft]]:
    prefix = f"p{uuid.uuid4().hex[:10]}"
    count = draw(st.integers(min_value=1, max_value=6))
    return prefix, [draw(drafts(accounts_for(prefix), f"{prefix}-{n}")) for n in range(count)]


@SETTINGS
@given(journal=journals(), cut_minutes=st.integers(min_value=-1, max_value=60 * 24 * 31))
def test_any_past_balance_is_the_fold_of_the_journal_up_to_then(
    ledger_db: tuple[LoopThread, SqlUnitOfWorkFactory],
    journal: tuple[str, list[EntryDraft]],
    cut_minutes: int,
) -> None:
    """Invariants 2 and 8: balances rebuild from history; all balances net to zero."""
    loop, uow_factory = ledger_db
    prefix, batch = journal
    loop.run(_post_all(uow_factory, batch))
    as_of = T0 + timedelta(minutes=cut_minutes)
    expected: Counter[str] = Counter()
    for draft in batch:
        if draft.occurred_at <= as_of:
            for leg in draft.legs:
                expected[leg.account.code] += leg.net
    totals = loop.run(_totals(uow_factory, as_of))
    mine = {t.account.code: t.net for t in totals if t.account.code.startswith(f"{prefix}:")}
    assert {c: n for c, n in mine.items() if n} == {c: n for c, n in expected.items() if n}
    per_currency: Counter[str] = Counter()
    for t in loop.run(_totals(uow_factory, None)):
        per_currency[t.account.currency] += t.net
        assert t.debits >= 0
        assert t.credits >= 0
    assert set(per_currency.values()) <= {0}


@SETTINGS
@given(journal=journals(), data=st.data())
def test_a_rejected_post_changes_nothing(
    ledger_db: tuple[LoopThread, SqlUnitOfWorkFactory],
    journal: tuple[str, list[EntryDraft]],
    data: st.DataObject,
) -> None:
    """Invariants 1, 3 and 7: an unbalanced draft is refused and leaves no trace."""
    loop, uow_factory = ledger_db
    prefix, batch = journal
    loop.run(_post_all(uow_factory, batch))
    before = loop.run(_totals(uow_factory, None))
    bad = data.draw(drafts(accounts_for(f"{prefix}-new"), f"{prefix}-bad", balanced=False))

    async def attempt() -> None:
        async with uow_factory() as uow:
            with pytest.raises(UnbalancedEntry):
                await post_entry(uow.ledger, bad, now=T0)
            await uow.commit()
            assert await uow.ledger.entry_by_source_key(bad.source_key) is None

    loop.run(attempt())
    assert loop.run(_totals(uow_factory, None)) == before
