"""Pure domain rules: transitions, money, identifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.errors import InvalidTransition
from payments.domain.ids import new_payment_id
from payments.domain.money import Money, format_minor_units, parse_decimal_amount
from payments.domain.payments import TRANSITIONS, PaymentStatus, check_transition

S = PaymentStatus


def test_success_is_final_and_late_success_is_possible() -> None:
    assert TRANSITIONS[S.SUCCEEDED] == frozenset()
    for ended in (S.CANCELLED, S.EXPIRED):
        check_transition("p", ended, S.SUCCEEDED)  # money taken late is still recorded
        with pytest.raises(InvalidTransition):
            check_transition("p", ended, S.PENDING)
    with pytest.raises(InvalidTransition):
        check_transition("p", S.CREATED, S.SUCCEEDED)  # no success without an attempt


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(PaymentStatus)


def test_vietnamese_amount_display() -> None:
    assert format_minor_units(1_250_000, "VND") == "1.250.000\xa0₫"


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("1250000", "VND", 1_250_000), ("12.50", "USD", 1250), ("0.01", "EUR", 1), ("7", "JPY", 7)],
)
def test_decimal_amounts_use_the_currency_exponent(text: str, currency: str, minor: int) -> None:
    assert parse_decimal_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("100.5", "VND"), ("1.005", "USD"), ("x", "VND"), ("NaN", "VND"), ("Infinity", "USD")],
)
def test_decimal_amounts_are_never_rounded(text: str, currency: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        parse_decimal_amount(text, currency)


def test_money_refuses_mixed_currencies_and_non_integers() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Money(1, "VND") + Money(1, "USD")
    with pytest.raises(TypeError):
        Money(True, "VND")


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=2, max_size=20))
def test_payment_ids_sort_by_creation_time(offsets_ms: list[int]) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    times = sorted(base + timedelta(milliseconds=ms) for ms in set(offsets_ms))
    ids = [new_payment_id(t) for t in times]
    assert ids == sorted(ids)
