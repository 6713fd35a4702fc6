"""The gateway in sandbox mode, as every conformance test finds it.

One app per test (its simulators keep their books in memory), with the provider under test on a
client that gives up after ``TIMEOUT_SECONDS`` and the simulators' waits at the test's word: a
slow answer comes at once, a hung one never comes, so only the client's own timeout ends it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from payments.adapters.db import tables
from payments.domain.attempts import Attempt, Provider
from payments.domain.payments import Payment
from payments.entrypoints.app import create_app
from payments.http.container import Container
from payments.ledger import chart
from payments.providers.interface import PaymentProvider, ProviderRegistry
from payments.sandbox.faults import HANG_SECONDS
from payments.sandbox.momo import MomoSimulator
from payments.sandbox.vnpay import VnpaySimulator
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, make_portal, payment_body

TIMEOUT_SECONDS = 1  # the provider clients' timeout: the one real wait, and only on a hang


class Waits:
    """The simulators' waits: a hung answer (``HANG_SECONDS``) never comes, any other at once."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def wait(self, seconds: int) -> None:
        self.asked.append(seconds)
        if seconds >= HANG_SECONDS:
            await asyncio.Event().wait()


@dataclass(frozen=True)
class Message:
    """A provider's server-to-server message to the gateway, as it goes on the wire."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)  # query string
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredCallback:
    verification: str  # "ok", or why the message was not trusted
    verdict: str | None  # what applying it did (None: not applied)


@dataclass
class Sandbox:
    http: httpx.AsyncClient  # the test's client into the app (checkout, callbacks, simulators)
    container: Container
    vnpay: VnpaySimulator
    momo: MomoSimulator
    portal: Portal
    waits: Waits = field(default_factory=Waits)
    clearing_at_start: dict[Provider, int] = field(default_factory=dict)

    def install(self, provider: PaymentProvider) -> None:
        """Let the gateway (checkout, callbacks) use ``provider`` for its name."""
        registry = self.container.providers
        chosen = {name: registry.get(name) for name in registry.names}
        chosen[provider.name] = provider
        self.container.providers = ProviderRegistry(
            {name: found for name, found in chosen.items() if found is not None}
        )

    async def new_payment(self, **body: Any) -> dict[str, Any]:
        answer = await self.http.post(
            "/v1/payments",
            json=payment_body(**body),
            headers={**self.portal.auth(), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    async def send(self, message: Message) -> httpx.Response:
        """Deliver a provider's message to the gateway's callback endpoint."""
        return await self.http.request(
            message.method,
            message.path,
            params=dict(message.params),
            content=message.body,
            headers=dict(message.headers),
        )

    async def payment(self, payment_id: str) -> Payment:
        async with self.container.uow_factory() as tx:
            found = await tx.payments.by_id(payment_id)
        assert found is not None
        return found

    async def attempt(self, payment_id: str) -> Attempt:
        """The payment's one attempt, as the gateway stored it."""
        async with self.container.uow_factory() as tx:
            (found,) = await tx.attempts.for_payment(payment_id)
        return found

    async def callbacks_naming(self, reference: str) -> list[StoredCallback]:
        """Every message the gateway kept that names ``reference``, oldest first (also those
        naming no attempt of ours, which ``for_payment`` cannot find)."""
        c = tables.provider_callbacks.c
        query = select(c.verification, c.verdict).where(c.provider_ref == reference).order_by(c.id)
        async with self.container.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [StoredCallback(row.verification, row.verdict) for row in rows]

    async def captured(self, provider: Provider) -> int:
        """What ``provider`` came to owe us since this sandbox opened (each capture posts to
        its clearing account once); the database may hold other tests' payments."""
        return await self._clearing(provider) - self.clearing_at_start[provider]

    async def _clearing(self, provider: Provider) -> int:
        code = chart.provider_clearing(provider.value).code
        async with self.container.uow_factory() as tx:
            totals = await tx.ledger.totals(as_of=None)
        return sum(row.net for row in totals if row.account.code == code)


@asynccontextmanager
async def open_sandbox(database_url: str) -> AsyncIterator[Sandbox]:
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        state = app.state
        container: Container = state.container
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            portal = await make_portal(container.uow_factory, datetime.now(UTC))
            sandbox = Sandbox(http, container, state.vnpay_simulator, state.momo_simulator, portal)
            for simulator in (sandbox.vnpay, sandbox.momo):
                simulator.faults.wait = sandbox.waits.wait
            for provider in Provider:
                sandbox.clearing_at_start[provider] = await sandbox._clearing(provider)
            yield sandbox
