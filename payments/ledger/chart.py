"""The chart of accounts (ARCHITECTURE.md section 5) as account specs opened on first use.

Codes are ``kind:detail``. VND is the home currency and its codes carry no suffix; an
account in another currency gets ``:<CUR>`` appended, because an account holds one currency.
"""

from __future__ import annotations

from payments.ledger.entries import AccountSpec, AccountType

HOME_CURRENCY = "VND"


def _code(base: str, currency: str) -> str:
    return base if currency == HOME_CURRENCY else f"{base}:{currency}"


def provider_clearing(provider: str, currency: str = HOME_CURRENCY) -> AccountSpec:
    """What a provider owes us for captured payments it has not yet settled (asset)."""
    return AccountSpec(
        _code(f"clearing:{provider}", currency),
        AccountType.ASSET,
        currency,
        f"Provider clearing: {provider}",
    )


def collection_bank(currency: str = HOME_CURRENCY) -> AccountSpec:
    """The gateway's collection bank account that providers settle into (asset)."""
    return AccountSpec(
        _code("collection-bank", currency), AccountType.ASSET, currency, "Collection bank account"
    )


def budget_payable(agency: str, sub_item: str, currency: str = HOME_CURRENCY) -> AccountSpec:
    """Budget revenue owed to the State Treasury for one agency and sub-item (liability)."""
    return AccountSpec(
        _code(f"budget-payable:{agency}:{sub_item}", currency),
        AccountType.LIABILITY,
        currency,
        f"Budget revenue payable: {agency}, sub-item {sub_item}",
    )


def agency_prefix(agency: str) -> str:
    """The start of the code of every account of one agency's own (its budget payable, for
    every sub-item and currency); every other account is the gateway's. Agency codes hold
    no colon, so one agency's prefix never starts another's."""
    return f"budget-payable:{agency}:"


def refunds_payable(currency: str = HOME_CURRENCY) -> AccountSpec:
    """Refunds approved but not yet paid back to payers (liability)."""
    return AccountSpec(
        _code("refunds-payable", currency), AccountType.LIABILITY, currency, "Refunds payable"
    )


def provider_fees(provider: str, currency: str = HOME_CURRENCY) -> AccountSpec:
    """Fees the provider keeps from its settlements (expense)."""
    return AccountSpec(
        _code(f"provider-fees:{provider}", currency),
        AccountType.EXPENSE,
        currency,
        f"Provider fees: {provider}",
    )


def fee_cover(currency: str = HOME_CURRENCY) -> AccountSpec:
    """Provider fees the gateway's operator covers (liability: owed to the operator).

    A provider keeps its fee out of what it settles, yet the State Treasury is owed every
    payment in full: the operator tops the collection account up by the fee, and the gateway
    owes the operator that top-up. Booked with the settlement that states the fee.
    """
    return AccountSpec(
        _code("fee-cover", currency), AccountType.LIABILITY, currency, "Provider fees covered"
    )


def gateway_revenue(currency: str = HOME_CURRENCY) -> AccountSpec:
    """Service charges the gateway itself earns (revenue)."""
    return AccountSpec(
        _code("gateway-revenue", currency), AccountType.REVENUE, currency, "Gateway revenue"
    )
