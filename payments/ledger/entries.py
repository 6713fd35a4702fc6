"""Ledger vocabulary and the rules every journal entry obeys. Pure Python, no I/O.

An entry is a set of legs (postings); each leg names an account, a side and a positive
integer amount in the account's currency (minor units). Debits and credits of an entry are
equal per currency. Entries are never changed: a correction is a reversal, the exact inverse.

Sign convention: a leg's *net* is +amount for a debit and -amount for a credit, so an
account's net balance is debits minus credits and all nets of the ledger sum to zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from payments.domain.errors import FieldProblem
from payments.domain.money import is_known_currency

MAX_SOURCE_KEY = 200
MAX_DESCRIPTION = 500
# Far above any real payment (the gateway caps one payment at 10^11) and far below the
# 64-bit range, so sums of many legs cannot overflow SQLite's integer arithmetic.
MAX_LEG_AMOUNT = 10**15


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """Assets and expenses grow with debits; liabilities and revenue with credits."""
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


@dataclass(frozen=True)
class AccountSpec:
    """What an account is; the chart of accounts builds these, the store opens them."""

    code: str
    type: AccountType
    currency: str
    name: str = field(default="", compare=False)


@dataclass(frozen=True)
class Account:
    id: int
    code: str
    type: AccountType
    currency: str
    name: str
    created_at: datetime

    @property
    def spec(self) -> AccountSpec:
        return AccountSpec(self.code, self.type, self.currency, self.name)


@dataclass(frozen=True)
class Leg:
    account: AccountSpec
    side: Side
    amount: int

    @property
    def currency(self) -> str:
        """A leg is always in its account's currency: there is no way to say otherwise."""
        return self.account.currency

    @property
    def net(self) -> int:
        return self.amount if self.side is Side.DEBIT else -self.amount

    def inverse(self) -> Leg:
        return Leg(self.account, self.side.opposite, self.amount)


def debit(account: AccountSpec, amount: int) -> Leg:
    return Leg(account, Side.DEBIT, amount)


def credit(account: AccountSpec, amount: int) -> Leg:
    return Leg(account, Side.CREDIT, amount)


@dataclass(frozen=True)
class EntryDraft:
    """An entry as a service asks for it: ``source_key`` names the business event."""

    source_key: str
    description: str
    occurred_at: datetime
    legs: tuple[Leg, ...]
    reversal_of: int | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    source_key: str
    description: str
    occurred_at: datetime
    recorded_at: datetime
    legs: tuple[Leg, ...]
    reversal_of: int | None = None


def nets_by_currency(legs: Iterable[Leg]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for leg in legs:
        totals[leg.currency] = totals.get(leg.currency, 0) + leg.net
    return totals


def draft_problems(draft: EntryDraft) -> list[FieldProblem]:
    """Everything wrong with a draft before it reaches storage; empty means postable."""
    found: list[FieldProblem] = []
    if not draft.source_key.strip() or len(draft.source_key) > MAX_SOURCE_KEY:
        found.append(FieldProblem("source_key", f"1 to {MAX_SOURCE_KEY} characters"))
    if not draft.description.strip() or len(draft.description) > MAX_DESCRIPTION:
        found.append(FieldProblem("description", f"1 to {MAX_DESCRIPTION} characters"))
    if draft.occurred_at.tzinfo is None:
        found.append(FieldProblem("occurred_at", "must carry a time zone"))
    found.extend(leg_problems(draft.legs))
    return found


def leg_problems(legs: tuple[Leg, ...]) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    if len(legs) < 2:
        found.append(FieldProblem("legs", "an entry needs at least two legs"))
    specs: dict[str, AccountSpec] = {}
    for index, leg in enumerate(legs):
        where = f"legs[{index}]"
        # bool is an int subclass and float is not money: only true ints pass.
        if type(leg.amount) is not int or not 0 < leg.amount <= MAX_LEG_AMOUNT:
            found.append(FieldProblem(f"{where}.amount", "a positive integer of minor units"))
        if not is_known_currency(leg.currency):
            found.append(FieldProblem(f"{where}.currency", f"unknown currency {leg.currency!r}"))
        seen = specs.setdefault(leg.account.code, leg.account)
        if seen != leg.account:
            found.append(
                FieldProblem(f"{where}.account", f"{leg.account.code} named with two definitions")
            )
    if not found:
        for currency, net in sorted(nets_by_currency(legs).items()):
            if net != 0:
                found.append(
                    FieldProblem("legs", f"debits and credits in {currency} differ by {abs(net)}")
                )
    return found


def leg_multiset(legs: Iterable[Leg]) -> Counter[tuple[str, str, Side, int]]:
    return Counter((leg.account.code, leg.currency, leg.side, leg.amount) for leg in legs)


def same_content(draft: EntryDraft, entry: Entry) -> bool:
    """Whether a replayed draft asks for exactly what ``entry`` recorded.

    The time is left out on purpose: a provider resending a callback gives the same event a
    later receipt time, and the first recording stands.
    """
    return (
        draft.source_key == entry.source_key
        and draft.description == entry.description
        and draft.reversal_of == entry.reversal_of
        and leg_multiset(draft.legs) == leg_multiset(entry.legs)
        and {leg.account for leg in draft.legs} == {leg.account for leg in entry.legs}
    )


def reversal_source_key(original: Entry) -> str:
    return f"reversal:{original.id}"


def reversal_draft(
    original: Entry, *, occurred_at: datetime, source_key: str | None, description: str | None
) -> EntryDraft:
    """The exact inverse of ``original``: every leg on the other side, same amounts."""
    return EntryDraft(
        source_key=source_key or reversal_source_key(original),
        description=description or f"Reversal of entry {original.id}: {original.description}",
        occurred_at=occurred_at,
        legs=tuple(leg.inverse() for leg in original.legs),
        reversal_of=original.id,
    )


def is_exact_inverse(reversal: Entry, original: Entry) -> bool:
    return leg_multiset(reversal.legs) == leg_multiset(leg.inverse() for leg in original.legs)


def entry_problems(entry: Entry) -> list[str]:
    """Rule breaches in a stored entry, as sentences (``verify`` prints them)."""
    return [f"{p.field}: {p.message}" for p in leg_problems(entry.legs)]


def fold_nets(entries: Iterable[Entry]) -> Mapping[str, int]:
    """Net balance per account code, folded from the legs (the definition of a balance)."""
    totals: dict[str, int] = {}
    for entry in entries:
        for leg in entry.legs:
            totals[leg.account.code] = totals.get(leg.account.code, 0) + leg.net
    return totals
