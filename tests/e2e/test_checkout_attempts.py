"""Choosing a provider again: the open attempt is reused (its page again), refused while it has
no page, capped per payment; a MoMo create left unanswered leaves the attempt ``unknown``,
shown in ``GET /v1/payments/{id}``.

The gateway runs in sandbox mode against its own simulators, on an injected clock; a provider
that times out is an httpx transport raising the client's timeout at once (no test waits).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payments.bootstrap import momo_config, vnpay_config
from payments.domain.attempts import Provider
from payments.entrypoints.app import create_app
from payments.entrypoints.container import Container
from payments.entrypoints.web.i18n import TEXTS
from payments.entrypoints.web.sandbox_faults import Fault
from payments.entrypoints.web.sandbox_momo import MomoSimulator
from payments.entrypoints.web.sandbox_vnpay import VnpaySimulator
from payments.providers.interface import PaymentProvider, ProviderRegistry
from payments.providers.momo_provider import MomoProvider
from payments.providers.vietqr_provider import VietqrProvider
from payments.providers.vnpay_provider import VnpayProvider
from payments.settings import Settings
from tests.api import BASE_URL, Portal
from tests.e2e.test_checkout_vnpay import create, path_of


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


class Stalls(httpx.AsyncBaseTransport):
    """The way to the providers, where a call to a path in ``paths`` times out at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path in self.paths:
            raise httpx.ReadTimeout("the provider did not answer in time", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class Gateway:
    http: httpx.AsyncClient
    container: Container
    clock: Clock
    vnpay: VnpaySimulator
    momo: MomoSimulator
    stalls: Stalls
    portal: Portal

    async def create(self, **body: Any) -> dict[str, Any]:
        return await create(self.http, self.portal, **body)

    async def choose(
        self, payment: dict[str, Any], provider: str, lang: str = "vi"
    ) -> httpx.Response:
        return await self.http.post(
            path_of(payment["checkout_url"]),
            data={"provider": provider, "lang": lang},
            headers={"Origin": BASE_URL},
        )

    async def read(self, payment_id: str) -> dict[str, Any]:
        answer = await self.http.get(f"/v1/payments/{payment_id}", headers=self.portal.auth())
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@asynccontextmanager
async def gateway(database_url: str, portal: Portal, **options: Any) -> AsyncIterator[Gateway]:
    """The sandbox app; its providers reach the simulators through ``Stalls``."""
    clock = Clock()
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=30,  # the worker's job exists; the test runs its rounds
        log_level="warning",
        **options,
    )
    app = create_app(settings, clock=clock)
    async with LifespanManager(app) as manager:
        container: Container = app.state.container
        stalls = Stalls(httpx.ASGITransport(app=manager.app))
        async with (
            httpx.AsyncClient(transport=stalls) as outbound,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
                base_url=BASE_URL,
            ) as http,
        ):
            providers: dict[Provider, PaymentProvider] = {
                Provider.VNPAY: VnpayProvider(vnpay_config(settings), outbound),
                Provider.MOMO: MomoProvider(momo_config(settings), outbound),
                Provider.VIETQR: container.providers.get(Provider.VIETQR) or _no_vietqr(),
            }
            container.providers = ProviderRegistry(providers)
            yield Gateway(
                http,
                container,
                clock,
                app.state.vnpay_simulator,
                app.state.momo_simulator,
                stalls,
                portal,
            )


def _no_vietqr() -> VietqrProvider:  # pragma: no cover - sandbox mode always has it
    raise AssertionError("the sandbox configures VietQR")


@pytest.fixture
async def gw(database_url: str, portal: Portal) -> AsyncIterator[Gateway]:
    async with gateway(database_url, portal) as found:
        yield found


def refusal(answer: httpx.Response, text_key: str, lang: str = "vi") -> None:
    """A page the payer can read, in their language, with the way back to the choice."""
    assert answer.headers["content-type"].startswith("text/html")
    assert TEXTS[lang][text_key] in answer.text
    assert TEXTS[lang]["try_again"] in answer.text


@pytest.mark.parametrize("provider", ["vnpay", "momo", "vietqr"])
async def test_choosing_the_same_provider_again_reuses_the_attempt(
    gw: Gateway, provider: str
) -> None:
    payment = await gw.create()
    first = await gw.choose(payment, provider)
    assert first.status_code == 303, first.text
    for _ in range(29):  # the payer (or a script) posts the choice again and again
        again = await gw.choose(payment, provider)
        assert again.status_code == 303
        assert again.headers["location"] == first.headers["location"]
    attempts = (await gw.read(payment["id"]))["attempts"]
    assert len(attempts) == 1
    assert gw.momo.faults.calls["create"] == (1 if provider == "momo" else 0)


async def test_a_lapsed_provider_page_gives_a_new_attempt_up_to_the_cap(
    database_url: str, portal: Portal
) -> None:
    async with gateway(database_url, portal, max_attempts_per_payment=3) as gw:
        payment = await gw.create(expires_at=(gw.clock.now + timedelta(hours=2)).isoformat())
        pages = set()
        for _ in range(3):
            answer = await gw.choose(payment, "vnpay")
            assert answer.status_code == 303, answer.text
            pages.add(answer.headers["location"])
            gw.clock.now += timedelta(minutes=11)  # VNPay's page for it has lapsed
        assert len(pages) == 3
        for lang in ("vi", "en"):
            refused = await gw.choose(payment, "momo", lang=lang)
            assert refused.status_code == 409
            refusal(refused, "too_many_attempts", lang)
        assert len((await gw.read(payment["id"]))["attempts"]) == 3


async def test_a_momo_create_timeout_leaves_the_attempt_unknown(gw: Gateway) -> None:
    payment = await gw.create()
    gw.stalls.paths.add("/sandbox/momo/v2/gateway/api/create")
    answer = await gw.choose(payment, "momo")
    assert answer.status_code == 502
    refusal(answer, "provider_unavailable")
    body = await gw.read(payment["id"])
    assert body["status"] == "pending"
    (attempt,) = body["attempts"]
    assert (attempt["provider"], attempt["status"]) == ("momo", "unknown")
    assert attempt["next_query_at"] is not None  # the ladder will ask MoMo what became of it
    # The payer tries MoMo again at once: no second order while the first is unanswered.
    gw.stalls.paths.clear()
    for lang in ("vi", "en"):
        again = await gw.choose(payment, "momo", lang=lang)
        assert again.status_code == 409
        refusal(again, "attempt_in_progress", lang)
    assert len((await gw.read(payment["id"]))["attempts"]) == 1
    # Another provider is another try.
    assert (await gw.choose(payment, "vnpay")).status_code == 303


@pytest.mark.parametrize("fault", [Fault.ERROR, Fault.GARBLE, Fault.LOSE])
async def test_a_momo_create_answering_5xx_or_garbage_leaves_the_attempt_unknown(
    gw: Gateway, fault: Fault
) -> None:
    payment = await gw.create()
    gw.momo.faults.plan("create", fault)
    assert (await gw.choose(payment, "momo")).status_code == 502
    (attempt,) = (await gw.read(payment["id"]))["attempts"]
    assert attempt["status"] == "unknown"


async def test_two_choices_posted_at_once_start_one_attempt(gw: Gateway) -> None:
    payment = await gw.create()
    answers = await asyncio.gather(*(gw.choose(payment, "momo") for _ in range(4)))
    codes = sorted(a.status_code for a in answers)
    # One started it; each other one was sent to its page or told it is being started.
    assert codes[0] == 303
    assert set(codes) <= {303, 409}, codes
    assert len((await gw.read(payment["id"]))["attempts"]) == 1
    assert gw.momo.faults.calls["create"] == 1
