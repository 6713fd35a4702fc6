"""What each state of a payment shows its payer (``domain.payer_view``), as template values:
amounts formatted, times in Vietnam time, provider names and reasons in the page's language,
and the links each state offers (all of them keep the page's language)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.collection.usecases.checkout import CheckoutView
from payments.domain.attempts import Attempt, Provider, reusable
from payments.domain.money import format_minor_units
from payments.domain.payer_view import PayerState, PayerView
from payments.entrypoints.web.i18n import TEXTS
from payments.entrypoints.web.rendering import vietnam_time, with_query
from payments.providers.interface import ProviderRegistry


@dataclass(frozen=True)
class InFlight:
    """A try that may still take the money."""

    provider: str  # its name in the page's language
    started: str
    started_iso: str
    next_check: str | None  # when the gateway asks the provider again, if it will
    transfer_url: str | None  # a bank transfer: its QR page again (same reference)
    continue_provider: str | None  # a provider page still alive: choosing it goes back there


@dataclass(frozen=True)
class LastTry:
    """The newest try, which the provider said failed."""

    provider: str
    reason: str | None
    stopped_by_payer: bool


@dataclass(frozen=True)
class Proof:
    """What the paid page shows as proof of payment."""

    payment_id: str
    provider: str | None  # the long label ("Thẻ ATM / ngân hàng (VNPay)")
    provider_txn: str | None  # the provider's own number: VNPay's, MoMo's, the bank's transfer
    paid_at: str | None
    paid_at_iso: str | None
    amount: str


def name_of(provider: Provider, lang: str) -> str:
    return TEXTS[lang][f"name_{provider.value}"]


def transfer_page(checkout_path: str, attempt: Attempt, lang: str) -> str:
    return with_query(f"{checkout_path}/vietqr/{attempt.id}", lang=lang)


def in_flight(attempt: Attempt, checkout_path: str, lang: str, now: datetime) -> InFlight:
    is_transfer = attempt.provider is Provider.VIETQR
    asks_at = attempt.next_query_at
    return InFlight(
        provider=name_of(attempt.provider, lang),
        started=vietnam_time(attempt.created_at),
        started_iso=attempt.created_at.isoformat(),
        next_check=vietnam_time(asks_at) if asks_at and asks_at > now else None,
        transfer_url=transfer_page(checkout_path, attempt, lang) if is_transfer else None,
        continue_provider=(
            attempt.provider.value
            if not is_transfer and reusable(attempt, attempt.provider, now)
            else None
        ),
    )


def last_try(attempt: Attempt | None, providers: ProviderRegistry, lang: str) -> LastTry | None:
    if attempt is None:
        return None
    provider = providers.get(attempt.provider)
    reason = (
        provider.payer_reason(attempt.result_code)
        if provider is not None and attempt.result_code
        else None
    )
    return LastTry(
        provider=name_of(attempt.provider, lang),
        reason=reason.text(lang) if reason else None,
        stopped_by_payer=reason.stopped_by_payer if reason else False,
    )


def proof(view: CheckoutView, payer: PayerView, lang: str) -> Proof:
    payment, attempt = view.payment, payer.paid_by
    # The provider's time of payment (its capture entry); else when we learned of it.
    paid_at = view.paid_at or (attempt.updated_at if attempt else None)
    return Proof(
        payment_id=payment.id,
        provider=TEXTS[lang][attempt.provider.value] if attempt else None,
        provider_txn=(attempt.provider_txn_id or None) if attempt else None,
        paid_at=vietnam_time(paid_at) if paid_at else None,
        paid_at_iso=paid_at.isoformat() if paid_at else None,
        amount=format_minor_units(payment.draft.amount, payment.draft.currency),
    )


def state_context(
    view: CheckoutView,
    payer: PayerView,
    *,
    providers: ProviderRegistry,
    checkout_path: str,
    lang: str,
    now: datetime,
) -> dict[str, Any]:
    """The values checkout.html needs for ``payer``'s state, whatever it is."""
    payment = view.payment
    currency = payment.draft.currency
    transfer = payer.transfer
    flags = payment.flags
    return {
        "state": payer.state.value,
        "payable": payer.payable,
        "received": format_minor_units(payer.received, currency) if payer.received else None,
        "due": format_minor_units(payer.amount_due, currency),
        "in_flight": [in_flight(a, checkout_path, lang, now) for a in payer.in_flight],
        "last_try": last_try(payer.last_failed, providers, lang),
        "transfer_url": transfer_page(checkout_path, transfer, lang) if transfer else None,
        "again_url": with_query(f"{checkout_path}/again", lang=lang),
        "self_url": with_query(checkout_path, lang=lang),
        "proof": proof(view, payer, lang) if payer.state is PayerState.PAID else None,
        "overpaid": (
            format_minor_units(flags.overpaid_amount, currency) if flags.overpaid_amount else None
        ),
    }
