"""Read side: accounts page by page, a balance as of a past time, the trial balance."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payments.ledger import chart
from payments.ledger.entries import AccountType
from payments.ledger.errors import AccountNotFound
from payments.ledger.posting import post_entry
from payments.ledger.queries import account_balance, list_accounts, trial_balance
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.ledger_builders import T0, payment_draft
from tests.support.ledger_cli import run_cli


async def _two_days(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for day, sub_item in enumerate(("1001", "2862", "3052")):
            draft = payment_draft(
                100_000 * (day + 1),
                payable=chart.budget_payable("DVC", sub_item),
                occurred_at=T0 + timedelta(days=day),
            )
            await post_entry(uow.ledger, draft, now=T0 + timedelta(days=day))
        await uow.commit()


async def test_balance_as_of_rebuilds_the_past(uow_factory: SqlUnitOfWorkFactory) -> None:
    await _two_days(uow_factory)
    code = chart.provider_clearing("vnpay").code
    assert (await account_balance(uow_factory, code, as_of=T0 - timedelta(seconds=1))).net == 0
    assert (await account_balance(uow_factory, code, as_of=T0)).balance == 100_000
    now = await account_balance(uow_factory, code)
    assert (now.debits, now.credits, now.balance) == (600_000, 0, 600_000)
    payable = await account_balance(uow_factory, "budget-payable:DVC:3052")
    assert payable.balance == 300_000  # a liability shows its credit balance as positive
    with pytest.raises(AccountNotFound):
        await account_balance(uow_factory, "no-such-account")


async def test_accounts_come_in_pages(uow_factory: SqlUnitOfWorkFactory) -> None:
    await _two_days(uow_factory)
    first = await list_accounts(uow_factory, limit=2)
    second = await list_accounts(uow_factory, limit=2, after=first.next_cursor)
    codes = [t.account.code for t in first.items + second.items]
    assert codes == sorted(codes)
    assert len(set(codes)) == 4
    assert second.next_cursor is None
    liabilities = await list_accounts(uow_factory, type=AccountType.LIABILITY)
    assert {t.account.type for t in liabilities.items} == {AccountType.LIABILITY}
    assert len((await list_accounts(uow_factory, code_prefix="clearing:")).items) == 1


async def test_trial_balance_balances_now_and_in_the_past(
    uow_factory: SqlUnitOfWorkFactory, database_url: str
) -> None:
    await _two_days(uow_factory)
    report = await trial_balance(uow_factory, as_of=T0 + timedelta(days=1))
    assert report.balanced
    assert [(t.currency, t.debits, t.credits) for t in report.totals] == [("VND", 300_000, 300_000)]
    printed = run_cli("trial-balance", "--database-url", database_url)
    assert printed.exit_code == 0, printed.output
    assert "balanced" in printed.output
    one = run_cli(
        "balance",
        "clearing:vnpay",
        "--as-of",
        "2026-11-22T10:00:00+07:00",
        "--database-url",
        database_url,
    )
    assert one.exit_code == 0, one.output
    assert "100,000" in one.output
