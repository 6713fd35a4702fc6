"""The operator's book-keeping checks name wrong-signed accounts and unbalanced currencies."""

from __future__ import annotations

from datetime import UTC, datetime

from payments.ledger import chart
from payments.ledger.book_checks import book_problems
from payments.ledger.entries import Account, AccountSpec
from payments.ledger.ports import AccountTotals

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def totals(spec: AccountSpec, debits: int, credits: int) -> AccountTotals:
    account = Account(1, spec.code, spec.type, spec.currency, spec.name, NOW)
    return AccountTotals(account, debits, credits)


def test_sound_books_have_no_problem() -> None:
    assert (
        book_problems(
            [
                totals(chart.provider_clearing("vnpay"), 150_000, 150_000),
                totals(chart.collection_bank(), 150_000, 100_000),
                totals(chart.budget_payable("DVC", "2662"), 150_000, 200_000),
            ]
        )
        == []
    )


def test_a_negative_collection_account_and_a_debit_payable_are_named() -> None:
    problems = book_problems(
        [
            totals(chart.collection_bank(), 0, 13_470_000),
            totals(chart.budget_payable("DVC", "2662"), 13_470_000, 0),
        ]
    )
    assert [(p.account, p.message) for p in problems] == [
        (
            "budget-payable:DVC:2662",
            "liability account budget-payable:DVC:2662 has a debit balance of 13470000 VND",
        ),
        (
            "collection-bank",
            "asset account collection-bank has a credit balance of 13470000 VND",
        ),
    ]


def test_a_currency_that_does_not_sum_to_zero_is_named() -> None:
    problems = book_problems([totals(chart.provider_clearing("vnpay"), 5, 0)])
    assert [p.message for p in problems] == ["balances in VND sum to 5, not zero"]
