"""Read side of the ledger for the API and the CLI: accounts, balances, the trial balance.

Every balance here is summed from postings as of a time (entries that *occurred* at or before
it), so any past balance is rebuilt from the journal rather than read from a stored figure.
Each function opens its own unit of work and never writes.

``scope``: a code prefix the reader is confined to (``chart.agency_prefix`` for an agency's
own accounts; None: the whole ledger). It narrows the store's query itself, so pages stay
full and cursors exact, and an account outside it is answered as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payments.domain.pages import one_page
from payments.ledger.entries import Account, AccountType
from payments.ledger.errors import AccountNotFound
from payments.ledger.ports import (
    AccountFilter,
    AccountTotals,
    LedgerUnitOfWork,
    LedgerUnitOfWorkFactory,
)

MAX_PAGE = 200


@dataclass(frozen=True)
class AccountPage:
    items: list[AccountTotals]
    next_cursor: str | None
    """Pass back as ``after`` for the next page; None on the last page."""


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    debits: int
    credits: int

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


@dataclass(frozen=True)
class TrialBalance:
    as_of: datetime | None
    rows: list[AccountTotals]
    totals: list[CurrencyTotals]

    @property
    def balanced(self) -> bool:
        return all(t.balanced for t in self.totals)


async def list_accounts(
    uow_factory: LedgerUnitOfWorkFactory,
    *,
    type: AccountType | None = None,
    currency: str | None = None,
    code_prefix: str | None = None,
    after: str | None = None,
    limit: int = 50,
    as_of: datetime | None = None,
    scope: str | None = None,
) -> AccountPage:
    """Accounts ordered by code with their balances, ``limit`` at a time (1..200).

    ``after`` is the cursor from the previous page (an account code).
    """
    limit = max(1, min(limit, MAX_PAGE))
    prefix = code_prefix
    if scope is not None:
        if not code_prefix or scope.startswith(code_prefix):
            prefix = scope
        elif not code_prefix.startswith(scope):
            return AccountPage([], None)  # the two prefixes exclude each other
    async with uow_factory() as uow:
        page, more = await one_page(
            lambda n: uow.ledger.list_accounts(
                AccountFilter(type=type, currency=currency, code_prefix=prefix),
                after_code=after,
                limit=n,
            ),
            limit,
        )
        totals = await uow.ledger.totals(as_of=as_of, account_ids=[acc.id for acc in page])
    return AccountPage(list(totals), page[-1].code if more and page else None)


async def account_balance(
    uow_factory: LedgerUnitOfWorkFactory,
    code: str,
    *,
    as_of: datetime | None = None,
    scope: str | None = None,
) -> AccountTotals:
    """Debits, credits and balance of account ``code`` as of ``as_of`` (now when None).

    Raises AccountNotFound for an unknown code, and for one outside ``scope``.
    """
    if scope is not None and not code.startswith(scope):
        raise AccountNotFound(code)
    async with uow_factory() as uow:
        found = (await uow.ledger.accounts_by_code([code])).get(code)
        if found is None:
            raise AccountNotFound(code)
        (totals,) = await uow.ledger.totals(as_of=as_of, account_ids=[found.id])
    return totals


async def trial_balance(
    uow_factory: LedgerUnitOfWorkFactory,
    *,
    as_of: datetime | None = None,
    scope: str | None = None,
) -> TrialBalance:
    """Every account's debits and credits as of ``as_of``, with per-currency totals; in a
    sound ledger debits equal credits in every currency. Within a ``scope`` only its
    accounts are summed: one side of their entries, so those totals need not balance."""
    async with uow_factory() as uow:
        if scope is None:
            rows = list(await uow.ledger.totals(as_of=as_of))
        else:
            ids = [acc.id for acc in await _accounts_within(uow, scope)]
            rows = list(await uow.ledger.totals(as_of=as_of, account_ids=ids)) if ids else []
    per_currency: dict[str, tuple[int, int]] = {}
    for row in rows:
        debits, credits = per_currency.get(row.account.currency, (0, 0))
        per_currency[row.account.currency] = (debits + row.debits, credits + row.credits)
    totals = [CurrencyTotals(cur, d, c) for cur, (d, c) in sorted(per_currency.items())]
    return TrialBalance(as_of, rows, totals)


async def _accounts_within(uow: LedgerUnitOfWork, scope: str) -> list[Account]:
    """Every account whose code starts with ``scope``, a page at a time."""
    found: list[Account] = []
    after: str | None = None
    while True:
        page = await uow.ledger.list_accounts(
            AccountFilter(code_prefix=scope), after_code=after, limit=MAX_PAGE
        )
        found.extend(page)
        if len(page) < MAX_PAGE:
            return found
        after = page[-1].code
