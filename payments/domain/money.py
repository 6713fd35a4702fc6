"""Money: integer minor units and an ISO 4217 currency. No float anywhere near an amount."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, list_currencies

# Babel knows historic and fund codes too; these are not legal tender for a payment.
_NOT_PAYABLE = frozenset(
    {"XAU", "XAG", "XPT", "XPD", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
)
_CURRENCIES = frozenset(code for code in list_currencies() if code not in _NOT_PAYABLE)


def is_known_currency(code: str) -> bool:
    return code in _CURRENCIES


def exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent (VND: 0, USD: 2)."""
    return int(get_currency_precision(currency))


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise TypeError("Money.amount must be an int of minor units")
        if not is_known_currency(self.currency):
            raise ValueError(f"unknown currency {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")


def parse_decimal_amount(text: str, currency: str) -> int:
    """Turn a decimal string such as ``"1250000"`` or ``"12.50"`` into minor units.

    Raises ValueError when the text has more decimals than the currency allows, so
    ``"100.5"`` VND is refused instead of silently rounded.
    """
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {text!r}")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more decimals than {currency} allows")
    return int(scaled)


def format_minor_units(amount: int, currency: str, locale: str = "vi_VN") -> str:
    """``1250000 VND`` -> ``1.250.000 ₫`` (Vietnamese style by default)."""
    major = Decimal(amount).scaleb(-exponent(currency))
    return str(format_currency(major, currency, locale=locale))
