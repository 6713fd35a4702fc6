"""How the console writes money and moments: ``1.250.000 ₫`` and Vietnam time."""

from __future__ import annotations

from datetime import date, datetime

from payments.entrypoints.web.rendering import VIETNAM_TIME

CURRENCY_SIGNS = {"VND": "₫"}


def amount(minor: int | None, currency: str = "VND") -> str:
    """Vietnamese grouping (dots) and the currency's sign; VND has no minor unit."""
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    grouped = f"{abs(minor):,}".replace(",", ".")
    return f"{sign}{grouped} {CURRENCY_SIGNS.get(currency, currency)}"


def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(VIETNAM_TIME)
    return f"{local:%d/%m/%Y %H:%M}"


def day(value: date | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y}"
