"""Each provider declares the currencies it can take, and never sends a payment in another:
a USD amount of 1500 (cents) once went to VNPay as 1.500 VND and to VietQR as 704 / 1500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from payments.bootstrap import provider_registry
from payments.domain.attempts import Attempt, AttemptStatus, Provider, provider_reference
from payments.domain.errors import InvalidInput
from payments.domain.payments import Payment, PaymentStatus
from payments.providers.interface import CheckoutRequest, ProviderRegistry, Redirect
from payments.settings import Settings
from tests.support.api import BASE_URL, TEST_PROVIDERS
from tests.support.factories import draft

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def registry(sent: list[httpx.Request]) -> ProviderRegistry:
    def provider_side(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503)

    options: dict[str, Any] = {**TEST_PROVIDERS, "base_url": BASE_URL}
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider_side))
    return provider_registry(Settings(**options), http)


def checkout_request(provider: Provider, currency: str, amount: int) -> CheckoutRequest:
    payment = Payment(
        id="pay_1",
        agency_id=1,
        draft=draft(amount=amount, currency=currency),
        status=PaymentStatus.CREATED,
        checkout_token="tok",
        expires_at=NOW + timedelta(hours=1),
        created_at=NOW,
        updated_at=NOW,
    )
    attempt = Attempt(
        id="att_1",
        payment_id=payment.id,
        provider=provider,
        provider_ref=provider_reference(provider, "att_1"),
        merchant="M",
        amount=amount,
        currency=currency,
        status=AttemptStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
    )
    return CheckoutRequest(
        payment=payment,
        attempt=attempt,
        checkout_url=f"{BASE_URL}/checkout/tok",
        return_url=f"{BASE_URL}/checkout/return/{provider}",
        ipn_url=f"{BASE_URL}/callbacks/{provider}/ipn",
        payer_ip="203.0.113.7",
        language="vi",
        now=NOW,
    )


def test_every_provider_declares_vnd_and_the_registry_derives_the_accepted_currencies() -> None:
    providers = registry([])
    declared = {p.name: p.currencies for p in (providers.get(n) for n in providers.names) if p}
    assert declared == {
        Provider.VNPAY: frozenset({"VND"}),
        Provider.MOMO: frozenset({"VND"}),
        Provider.VIETQR: frozenset({"VND"}),
    }
    assert providers.currencies == frozenset({"VND"})
    assert [p.name for p in providers.for_currency("VND")] == list(providers.names)
    assert providers.for_currency("USD") == ()


@pytest.mark.parametrize("name", list(Provider))
async def test_start_checkout_refuses_a_currency_the_provider_cannot_take(name: Provider) -> None:
    sent: list[httpx.Request] = []
    provider = registry(sent).get(name)
    assert provider is not None
    with pytest.raises(InvalidInput) as refused:
        await provider.start_checkout(checkout_request(name, "USD", 1500))
    assert [p.field for p in refused.value.problems] == ["currency"]
    assert "VND" in refused.value.detail
    assert sent == []  # nothing reached the provider


async def test_the_vnpay_redirect_names_the_payments_own_currency() -> None:
    provider = registry([]).get(Provider.VNPAY)
    assert provider is not None
    target = await provider.start_checkout(checkout_request(Provider.VNPAY, "VND", 150_000))
    assert isinstance(target, Redirect)
    query = httpx.URL(target.url).params
    assert (query["vnp_CurrCode"], query["vnp_Amount"]) == ("VND", "15000000")
