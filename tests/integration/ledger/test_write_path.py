"""The write path on both databases, told as small accounting stories."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.errors import AlreadyReversed, SourceKeyConflict, UnbalancedEntry
from payments.ledger.posting import post_entry, reverse_entry
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.ledger_builders import T0, payment_draft, unique


async def net_of(uow_factory: SqlUnitOfWorkFactory, code: str) -> int:
    async with uow_factory() as uow:
        accounts = await uow.ledger.accounts_by_code([code])
        if code not in accounts:
            return 0
        (totals,) = await uow.ledger.totals(as_of=None, account_ids=[accounts[code].id])
    return totals.net


async def test_a_payment_then_its_settlement(uow_factory: SqlUnitOfWorkFactory) -> None:
    clearing = chart.provider_clearing("vnpay")
    async with uow_factory() as uow:
        await post_entry(uow.ledger, payment_draft(1_250_000, source_key="pay-1"), now=T0)
        settled = EntryDraft(
            source_key="settle-1",
            description="VNPay settled the day",
            occurred_at=T0 + timedelta(days=1),
            legs=(
                debit(chart.collection_bank(), 1_240_000),
                debit(chart.provider_fees("vnpay"), 10_000),
                credit(clearing, 1_250_000),
            ),
        )
        await post_entry(uow.ledger, settled, now=T0 + timedelta(days=1))
        await uow.commit()
    assert await net_of(uow_factory, clearing.code) == 0
    assert await net_of(uow_factory, chart.collection_bank().code) == 1_240_000
    assert await net_of(uow_factory, chart.budget_payable("DVC", "2862").code) == -1_250_000


async def test_nothing_is_kept_without_commit(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await post_entry(uow.ledger, payment_draft(500, source_key="pay-x"), now=T0)
    async with uow_factory() as uow:
        assert await uow.ledger.entry_by_source_key("pay-x") is None


async def test_replay_returns_the_original(uow_factory: SqlUnitOfWorkFactory) -> None:
    draft = payment_draft(700)
    async with uow_factory() as uow:
        first = await post_entry(uow.ledger, draft, now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        again = await post_entry(uow.ledger, draft, now=T0 + timedelta(minutes=5))
        await uow.commit()
    assert again.replayed
    assert again.entry.id == first.entry.id
    assert await net_of(uow_factory, chart.provider_clearing("vnpay").code) == 700


async def test_replay_with_other_content_is_a_conflict(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        first = await post_entry(uow.ledger, payment_draft(700, source_key="k"), now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(SourceKeyConflict) as caught:
            await post_entry(uow.ledger, payment_draft(701, source_key="k"), now=T0)
    assert caught.value.existing_entry_id == first.entry.id


async def test_reversal_is_the_exact_inverse_and_happens_once(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        original = (await post_entry(uow.ledger, payment_draft(900), now=T0)).entry
        reversal = (await reverse_entry(uow.ledger, original.id, now=T0)).entry
        await uow.commit()
    assert reversal.reversal_of == original.id
    assert await net_of(uow_factory, chart.provider_clearing("vnpay").code) == 0
    async with uow_factory() as uow:
        again = await reverse_entry(uow.ledger, original.id, now=T0)
        assert again.replayed
        assert again.entry.id == reversal.id
        with pytest.raises(AlreadyReversed):
            await reverse_entry(uow.ledger, original.id, now=T0, source_key=unique("rev"))


async def test_unbalanced_entry_is_refused_and_opens_no_account(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    fresh = chart.budget_payable("NEW", "1001")
    draft = EntryDraft(
        source_key=unique("bad"),
        description="one dong short",
        occurred_at=T0,
        legs=(debit(chart.provider_clearing("momo"), 100), credit(fresh, 99)),
    )
    async with uow_factory() as uow:
        with pytest.raises(UnbalancedEntry):
            await post_entry(uow.ledger, draft, now=T0)
        assert await uow.ledger.accounts_by_code([fresh.code]) == {}
