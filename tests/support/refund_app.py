"""The refund tests' app: the gateway in sandbox mode with a four-eyes threshold of 100.000 VND
and provider clients that give up after a second, a portal of its own, and the steps of a
refund over HTTP (pay, ask, switch the simulator's refund mode)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from payments.bootstrap import momo_config, vnpay_config
from payments.domain.access import Role
from payments.domain.attempts import Provider
from payments.entrypoints.app import create_app
from payments.http.container import Container
from payments.providers.interface import PaymentProvider, ProviderRegistry
from payments.providers.momo.provider import MomoProvider
from payments.providers.vnpay.provider import VnpayProvider
from payments.services.access import create_api_key
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, make_portal
from tests.support.checkout_flows import (
    choose_momo,
    choose_vnpay,
    create,
    pay_momo,
    pay_vnpay,
    qr_page,
    simulate,
)
from tests.support.sandbox_refunds import PREFIX


@dataclass
class App:
    http: httpx.AsyncClient
    container: Container
    portal: Portal

    async def paid(self, provider: Provider = Provider.VNPAY, **body: Any) -> dict[str, Any]:
        payment = await create(self.http, self.portal, **body)
        if provider is Provider.VNPAY:
            await pay_vnpay(self.http, await choose_vnpay(self.http, payment), "success")
        elif provider is Provider.MOMO:
            await pay_momo(self.http, await choose_momo(self.http, payment), "success")
        else:
            path, reference = await qr_page(self.http, payment)
            await simulate(self.http, path, reference, "more")
        read = await self.http.get(f"/v1/payments/{payment['id']}", headers=self.portal.auth())
        assert read.json()["status"] == "succeeded", read.text
        result: dict[str, Any] = read.json()
        return result

    async def refund(
        self,
        payment_id: str,
        amount: int,
        *,
        key: str | None = None,
        role: Role = Role.FINANCE,
        portal: Portal | None = None,
        **extra: Any,
    ) -> httpx.Response:
        headers = (portal or self.portal).auth(role)
        headers["Idempotency-Key"] = key or uuid.uuid4().hex
        return await self.http.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": amount, "reason": "Thu trùng lệ phí", **extra},
            headers=headers,
        )

    async def switch(self, name: Provider, mode: str, **form: str) -> None:
        answer = await self.http.post(f"{PREFIX[name]}/refunds/mode", data={"mode": mode, **form})
        assert answer.status_code == 200, answer.text


@asynccontextmanager
async def refund_app(database_url: str) -> AsyncIterator[App]:
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
        refund_approval_threshold=100_000,
    )
    application = create_app(settings)
    async with LifespanManager(application) as manager:
        container: Container = application.state.container
        # Provider clients that give up after 1 s, so a simulated timeout stays short.
        providers: dict[Provider, PaymentProvider] = {
            Provider.VNPAY: VnpayProvider(
                vnpay_config(settings), container.http, timeout_seconds=1
            ),
            Provider.MOMO: MomoProvider(momo_config(settings), container.http, timeout_seconds=1),
        }
        vietqr = container.providers.get(Provider.VIETQR)
        assert vietqr is not None
        providers[Provider.VIETQR] = vietqr
        container.providers = ProviderRegistry(providers)
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            portal = await make_portal(container.uow_factory, datetime.now(UTC))
            yield App(http, container, portal)


async def make_second_officer(app: App) -> str:
    _, plain = await create_api_key(
        app.container.uow_factory,
        agency_code=app.portal.code,
        role=Role.FINANCE,
        label="second officer",
        actor="test",
        now=datetime.now(UTC),
    )
    return f"Bearer {plain}"
