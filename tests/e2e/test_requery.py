"""Requery over the real providers: a dropped IPN is found by querydr on the simulator; a
provider timeout during requery crashes nothing and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager

from payments.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from payments.entrypoints.app import create_app
from payments.entrypoints.container import Container
from payments.entrypoints.worker.jobs import status_query
from payments.providers.interface import ProviderRegistry
from payments.providers.vnpay import VnpayConfig
from payments.providers.vnpay_provider import VnpayProvider
from payments.services.requery import requery_due_attempts
from payments.settings import Settings
from tests.api import BASE_URL, Portal
from tests.e2e.test_checkout_momo import choose_momo
from tests.e2e.test_checkout_momo import pay as pay_momo
from tests.e2e.test_checkout_vnpay import choose_vnpay, create, pay, status
from tests.integration.test_checkout_db import new_payment, start


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_dropped_ipns_are_found_by_requery(database_url: str, portal: Portal) -> None:
    clock = Clock()
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
    )
    app = create_app(settings, clock=clock)
    async with LifespanManager(app) as manager:
        container: Container = app.state.container
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            by_vnpay = await create(http, portal)
            await pay(http, await choose_vnpay(http, by_vnpay), "success", drop_ipn="1")
            by_momo = await create(http, portal)
            await pay_momo(http, await choose_momo(http, by_momo), "success", drop_ipn="1")
            assert await status(http, portal, by_vnpay["id"]) == "pending"
            assert await status(http, portal, by_momo["id"]) == "pending"
            clock.now += timedelta(minutes=1)
            report = await requery_due_attempts(
                container.uow_factory, status_query(container.providers), now=clock.now
            )
            assert (report.asked, report.answered) == (2, 2)
            assert await status(http, portal, by_vnpay["id"]) == "succeeded"
            assert await status(http, portal, by_momo["id"]) == "succeeded"


async def test_provider_timeout_during_requery_changes_nothing(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("provider too slow", request=request)

    payment = await new_payment(uow_factory)
    started = await start(uow_factory, payment)
    config = VnpayConfig("DEMOTMN1", "secret-for-tests", "https://v.test/pay", "https://v.test/api")
    async with httpx.AsyncClient(transport=httpx.MockTransport(timeout)) as http:
        registry = ProviderRegistry({started.attempt.provider: VnpayProvider(config, http)})
        later = started.attempt.created_at + timedelta(minutes=1)
        report = await requery_due_attempts(uow_factory, status_query(registry), now=later)
    assert (report.asked, report.unknown) == (1, 1)
    async with uow_factory() as tx:
        attempt = await tx.attempts.get(started.attempt.id)
        stored = await tx.payments.by_id(payment.id)
    assert attempt is not None
    assert stored is not None
    assert attempt.status.value == "pending"
    assert attempt.next_query_at == later + timedelta(minutes=5)
    assert stored.status.value == "pending"
