"""Refunds on the in-memory fakes: a payment paid at ``PAID_AT`` through one scripted provider,
and the ledger's net per account (which must balance)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from payments.domain.attempts import Provider
from tests.support.refund_support import Paid, Providers, ScriptedProvider, paid_payment
from tests.unit.fakes import FakeUnitOfWorkFactory

PAID_AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


async def nets(uow: FakeUnitOfWorkFactory) -> Counter[str]:
    async with uow() as tx:
        totals = await tx.ledger.totals(as_of=None)
    found: Counter[str] = Counter()
    for total in totals:
        found[total.account.code] = total.net
    assert sum(found.values()) == 0  # the ledger balances
    return found


async def setup(
    provider: Provider = Provider.VNPAY, amount: int = 150_000
) -> tuple[FakeUnitOfWorkFactory, Paid, ScriptedProvider, Providers]:
    uow = FakeUnitOfWorkFactory()
    paid = await paid_payment(uow, PAID_AT, amount=amount, provider=provider)
    scripted = ScriptedProvider()
    return uow, paid, scripted, Providers({provider: scripted})
