"""Hypothesis strategies for ledger legs and drafts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from payments.ledger.entries import (
    MAX_LEG_AMOUNT,
    AccountSpec,
    AccountType,
    EntryDraft,
    Leg,
    credit,
    debit,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
amounts = st.integers(min_value=1, max_value=10**12)


def accounts_for(prefix: str) -> list[AccountSpec]:
    """A small chart with two currencies, codes unique to ``prefix``."""
    return [
        AccountSpec(f"{prefix}:clearing", AccountType.ASSET, "VND"),
        AccountSpec(f"{prefix}:bank", AccountType.ASSET, "VND"),
        AccountSpec(f"{prefix}:payable", AccountType.LIABILITY, "VND"),
        AccountSpec(f"{prefix}:fees", AccountType.EXPENSE, "VND"),
        AccountSpec(f"{prefix}:usd-clearing", AccountType.ASSET, "USD"),
        AccountSpec(f"{prefix}:usd-payable", AccountType.LIABILITY, "USD"),
    ]


@st.composite
def balanced_legs(draw: st.DrawFn, accounts: Sequence[AccountSpec]) -> tuple[Leg, ...]:
    """1 to 3 debit/credit pairs, each within one currency, so every currency nets to zero."""
    legs: list[Leg] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        first = draw(st.sampled_from(accounts))
        second = draw(st.sampled_from([a for a in accounts if a.currency == first.currency]))
        amount = draw(amounts)
        legs += [debit(first, amount), credit(second, amount)]
    return tuple(draw(st.permutations(legs)))


@st.composite
def unbalanced_legs(draw: st.DrawFn, accounts: Sequence[AccountSpec]) -> tuple[Leg, ...]:
    legs = list(draw(balanced_legs(accounts)))
    index = draw(st.integers(min_value=0, max_value=len(legs) - 1))
    leg = legs[index]
    delta = draw(st.integers(min_value=1, max_value=1000))
    bigger = leg.amount + delta <= MAX_LEG_AMOUNT
    legs[index] = Leg(leg.account, leg.side, leg.amount + delta if bigger else leg.amount - delta)
    return tuple(legs)


@st.composite
def drafts(
    draw: st.DrawFn, accounts: Sequence[AccountSpec], source_key: str, balanced: bool = True
) -> EntryDraft:
    legs = draw(balanced_legs(accounts) if balanced else unbalanced_legs(accounts))
    minutes = draw(st.integers(min_value=0, max_value=60 * 24 * 30))
    return EntryDraft(
        source_key=source_key,
        description=draw(st.sampled_from(["payment succeeded", "settlement", "refund"])),
        occurred_at=T0 + timedelta(minutes=minutes),
        legs=legs,
    )
