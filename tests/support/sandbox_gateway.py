"""The gateway in sandbox mode on an injected clock, for the checkout and requery tests: its
providers reach the simulators through ``Stalls``, where a chosen provider path times out at
once (no test waits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from payments.bootstrap import momo_config, vnpay_config
from payments.domain.attempts import Provider
from payments.entrypoints.app import create_app
from payments.http.container import Container
from payments.providers.interface import PaymentProvider, ProviderRegistry
from payments.providers.momo.provider import MomoProvider
from payments.providers.vietqr.provider import VietqrProvider
from payments.providers.vnpay.provider import VnpayProvider
from payments.sandbox.momo import MomoSimulator
from payments.sandbox.vnpay import VnpaySimulator
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal
from tests.support.checkout_flows import create, path_of


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
        self, payment: dict[str, Any], provider: str, lang: str = "vi", *, confirm: bool = False
    ) -> httpx.Response:
        """Post the choice of ``provider``; ``confirm``: the explained choice to pay again
        while another try may still take the money."""
        return await self.http.post(
            path_of(payment["checkout_url"]),
            data={
                "provider": provider,
                "lang": lang,
                **({"confirm": "another"} if confirm else {}),
            },
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
