"""Book-keeping checks an operator runs on a live ledger (``payments ledger check``), beside
``verify``'s proof that the journal is intact. Pure: no I/O; the CLI feeds it the totals.

What they find, each named by its account:
- a currency whose balances do not sum to zero (a broken entry slipped past the database);
- an asset or expense with a credit balance, or a liability or revenue with a debit balance:
  money booked out before it was booked in (a provider settling what it never captured, the
  collection account paying the treasury more than it received, a refund of money already
  remitted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from payments.ledger.ports import AccountTotals


@dataclass(frozen=True)
class BookProblem:
    account: str | None  # None: the problem is the currency's, not one account's
    message: str


def book_problems(totals: Iterable[AccountTotals]) -> list[BookProblem]:
    found: list[BookProblem] = []
    per_currency: dict[str, int] = {}
    for row in sorted(totals, key=lambda r: r.account.code):
        account = row.account
        per_currency[account.currency] = per_currency.get(account.currency, 0) + row.net
        if row.balance < 0:
            side = "credit" if account.type.debit_normal else "debit"
            found.append(
                BookProblem(
                    account.code,
                    f"{account.type} account {account.code} has a {side} balance of "
                    f"{-row.balance} {account.currency}",
                )
            )
    for currency, net in sorted(per_currency.items()):
        if net != 0:
            found.append(BookProblem(None, f"balances in {currency} sum to {net}, not zero"))
    return found
