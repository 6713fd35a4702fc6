"""Racing writers on PostgreSQL: one source key posts once; one hot account loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from payments.ledger import chart
from payments.ledger.errors import AlreadyReversed
from payments.ledger.posting import Posted, post_entry, reverse_entry
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.ledger_builders import T0, payment_draft, unique

pytestmark = pytest.mark.postgres_only
WRITERS = 24


async def _post(uow_factory: SqlUnitOfWorkFactory, amount: int, key: str) -> Posted:
    async with uow_factory() as uow:
        posted = await post_entry(uow.ledger, payment_draft(amount, source_key=key), now=T0)
        await uow.commit()
    return posted


async def test_one_source_key_posted_by_many_gives_one_entry(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    key = unique("ipn")
    results = await asyncio.gather(*(_post(uow_factory, 5_000, key) for _ in range(WRITERS)))
    assert len({r.entry.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    async with uow_factory() as uow:
        (clearing,) = (await uow.ledger.accounts_by_code(["clearing:vnpay"])).values()
        (totals,) = await uow.ledger.totals(as_of=None, account_ids=[clearing.id])
    assert totals.net == 5_000


async def test_many_writers_on_one_hot_account_sum_exactly(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    amounts = [1_000 + i for i in range(WRITERS * 4)]
    await asyncio.gather(*(_post(uow_factory, amount, unique("pay")) for amount in amounts))
    async with uow_factory() as uow:
        by_code = {t.account.code: t for t in await uow.ledger.totals(as_of=None)}
    assert by_code[chart.provider_clearing("vnpay").code].net == sum(amounts)
    assert by_code[chart.budget_payable("DVC", "2862").code].net == -sum(amounts)


async def test_racing_reversals_reverse_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    original = await _post(uow_factory, 7_000, unique("pay"))

    async def reverse(n: int) -> Posted | AlreadyReversed:
        try:
            async with uow_factory() as uow:
                posted = await reverse_entry(
                    uow.ledger, original.entry.id, now=T0, source_key=f"rev-{n}"
                )
                await uow.commit()
        except AlreadyReversed as refused:
            return refused
        return posted

    outcomes = await asyncio.gather(*(reverse(n) for n in range(WRITERS)))
    assert sum(isinstance(o, Posted) for o in outcomes) == 1
