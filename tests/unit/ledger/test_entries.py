"""Entry rules, no I/O: invariants 1, 3, 4 and 5 on the pure types (Hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.ledger import chart
from payments.ledger.entries import (
    AccountSpec,
    AccountType,
    Entry,
    EntryDraft,
    Leg,
    Side,
    credit,
    debit,
    draft_problems,
    is_exact_inverse,
    leg_problems,
    nets_by_currency,
    reversal_draft,
    same_content,
)
from tests.support.ledger_strategies import accounts_for, balanced_legs, drafts, unbalanced_legs

ACCOUNTS = accounts_for("u")
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def stored(draft: EntryDraft, entry_id: int = 1) -> Entry:
    return Entry(
        entry_id,
        draft.source_key,
        draft.description,
        draft.occurred_at,
        NOW,
        draft.legs,
        draft.reversal_of,
    )


@given(balanced_legs(ACCOUNTS))
def test_balanced_legs_pass_and_net_to_zero_per_currency(legs: tuple[Leg, ...]) -> None:
    assert leg_problems(legs) == []
    assert set(nets_by_currency(legs).values()) == {0}


@given(unbalanced_legs(ACCOUNTS))
def test_unbalanced_legs_are_refused(legs: tuple[Leg, ...]) -> None:
    assert any("differ by" in p.message for p in leg_problems(legs))


@given(
    amount=st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=10**15 + 1),
        st.booleans(),
        st.floats(allow_nan=False),
    )
)
def test_amounts_are_positive_ints_only(amount: object) -> None:
    clearing, payable = chart.provider_clearing("vnpay"), chart.budget_payable("DVC", "2862")
    legs = (Leg(clearing, Side.DEBIT, amount), Leg(payable, Side.CREDIT, amount))  # type: ignore[arg-type]
    assert any(p.field.endswith(".amount") for p in leg_problems(legs))


def test_a_single_leg_and_an_unknown_currency_are_refused() -> None:
    odd = AccountSpec("odd", AccountType.ASSET, "XYZ")
    assert leg_problems((debit(odd, 5),))
    assert any("currency" in p.field for p in leg_problems((debit(odd, 5), credit(odd, 5))))


def test_one_code_cannot_mean_two_accounts() -> None:
    a = AccountSpec("x", AccountType.ASSET, "VND")
    b = AccountSpec("x", AccountType.LIABILITY, "VND")
    assert leg_problems((debit(a, 5), credit(b, 5)))


def test_draft_needs_key_description_and_zone() -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001  (the point of the test)
    draft = EntryDraft(" ", "", naive, (debit(ACCOUNTS[0], 1), credit(ACCOUNTS[2], 1)))
    assert {p.field for p in draft_problems(draft)} == {"source_key", "description", "occurred_at"}


@given(drafts(ACCOUNTS, "k"))
def test_reversal_is_the_exact_inverse_and_balances(draft: EntryDraft) -> None:
    original = stored(draft)
    reversal = reversal_draft(original, occurred_at=NOW, source_key=None, description=None)
    assert reversal.reversal_of == original.id
    assert reversal.source_key == "reversal:1"
    assert leg_problems(reversal.legs) == []
    assert is_exact_inverse(stored(reversal, 2), original)
    combined = nets_by_currency((*original.legs, *reversal.legs))
    assert set(combined.values()) == {0}


@given(drafts(ACCOUNTS, "k"), st.data())
def test_same_content_ignores_time_and_leg_order_only(
    draft: EntryDraft, data: st.DataObject
) -> None:
    original = stored(draft)
    shuffled = data.draw(st.permutations(draft.legs))
    assert same_content(replace(draft, occurred_at=NOW, legs=tuple(shuffled)), original)
    assert not same_content(replace(draft, description="other"), original)
    bumped = (Leg(draft.legs[0].account, draft.legs[0].side, draft.legs[0].amount + 1),)
    assert not same_content(replace(draft, legs=bumped + draft.legs[1:]), original)
    assert not same_content(replace(draft, reversal_of=7), original)


def test_chart_codes_name_provider_agency_and_sub_item() -> None:
    assert chart.provider_clearing("vnpay").code == "clearing:vnpay"
    assert chart.provider_clearing("vnpay", "USD").code == "clearing:vnpay:USD"
    payable = chart.budget_payable("DVC", "2862")
    assert (payable.code, payable.type) == ("budget-payable:DVC:2862", AccountType.LIABILITY)
    assert chart.provider_fees("momo").type is AccountType.EXPENSE
    assert chart.collection_bank().type.debit_normal
    assert not chart.refunds_payable().type.debit_normal
    assert chart.gateway_revenue().type is AccountType.REVENUE


@pytest.mark.parametrize("side", list(Side))
def test_sides_are_opposites(side: Side) -> None:
    assert side.opposite.opposite is side
    assert side.opposite is not side
