"""The one interface every payment provider implements, whatever its protocol.

    start_checkout   where to send the payer (a signed redirect, a QR page...)
    verify_callback  check a server-to-server message and turn it into a ProviderOutcome
    query_status     ask the provider what became of an attempt
    refund           give money back: a typed request, a typed outcome (see ``refunds``)
    refund_status    settle a refund whose answer we never got (or that is still pending)
    acknowledge      the answer the provider expects to a callback, per verdict
    payer_reason     why a try failed, in the payer's words, from the provider's stored code
    currencies       the ISO 4217 codes it can take: a payment in another is never offered
                     to it, and ``start_checkout`` refuses one (InvalidInput on ``currency``)
    refunds_told_apart  whether ``refund_status`` finds a refund by our request id; when not
                     (VNPay), refunds of one payment go to the provider one at a time

Implementations never raise on provider trouble: a message we cannot trust is ``Rejected``,
an answer we could not get is ``Unknown`` (see ``outcomes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from payments.domain.attempts import Attempt, Provider, ProviderOutcome, Verdict
from payments.domain.payments import Payment
from payments.providers.outcomes import Rejected, Unknown
from payments.providers.payer_reasons import PayerReason
from payments.providers.refunds import RefundOutcome, RefundRequest, RefundStatus


@dataclass(frozen=True)
class CheckoutRequest:
    payment: Payment
    attempt: Attempt
    checkout_url: str  # the payment's checkout page (VietQR shows its QR page under it)
    return_url: str  # our browser-return page for this provider
    ipn_url: str  # our server-to-server callback URL
    payer_ip: str
    language: str  # "vi" or "en"
    now: datetime


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class Acknowledgement:
    status_code: int
    body: Mapping[str, str] | None = field(default=None)


class PaymentProvider(Protocol):
    @property
    def name(self) -> Provider: ...

    @property
    def merchant(self) -> str:
        """Our merchant / terminal code at the provider, stored on every attempt."""

    @property
    def currencies(self) -> frozenset[str]:
        """The ISO 4217 codes this provider can take a payment in: no other is ever sent to it
        (``start_checkout`` refuses one)."""

    @property
    def refunds_told_apart(self) -> bool:
        """True when the refund status query names our request id, so several refunds of one
        payment may be at the provider together."""

    async def start_checkout(self, request: CheckoutRequest) -> Redirect | Unknown: ...

    def verify_callback(self, params: Mapping[str, object]) -> ProviderOutcome | Rejected: ...

    def reference_of(self, params: Mapping[str, object]) -> str | None:
        """The attempt reference a message names, read before (or without) verification."""

    async def query_status(
        self, attempt: Attempt, *, now: datetime
    ) -> ProviderOutcome | Rejected | Unknown: ...

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        """Ask for the refund. Sending the same ``request_id`` again is the same refund."""

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundStatus:
        """What became of the refund with this request (its ``request_id``)."""

    def acknowledge(
        self, *, verdict: Verdict | None, rejection: Rejected | None
    ) -> Acknowledgement:
        """The answer to a callback: ``rejection`` when it failed verification, else the
        verdict of applying it (None when applying it failed unexpectedly)."""

    def payer_reason(self, result_code: str) -> PayerReason | None:
        """Why a try with this stored ``result_code`` (``Attempt.result_code``) did not go
        through, for the payer; None when the code has no words for them."""


class ProviderRegistry:
    """The providers configured for this process, built once in the app's lifespan.

    Every agency pays through every provider configured here (there is no per-agency choice of
    providers), so the currencies an agency's payments may have are ``currencies``.
    """

    def __init__(self, providers: Mapping[Provider, PaymentProvider]) -> None:
        self._providers = dict(providers)

    def get(self, name: Provider) -> PaymentProvider | None:
        return self._providers.get(name)

    @property
    def names(self) -> tuple[Provider, ...]:
        return tuple(self._providers)

    @property
    def currencies(self) -> frozenset[str]:
        """Every currency at least one configured provider can take."""
        return frozenset().union(*(p.currencies for p in self._providers.values()))

    def for_currency(self, currency: str) -> tuple[PaymentProvider, ...]:
        """The providers that can take a payment in ``currency``, in configuration order."""
        return tuple(p for p in self._providers.values() if currency in p.currencies)
