"""Build the Starlette application from settings. Resources come alive in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from payments.adapters.db.engine import make_engine
from payments.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from payments.adapters.logging import configure_logging
from payments.domain.attempts import Attempt, Provider, ProviderOutcome
from payments.domain.errors import InvalidConfiguration, PaymentsError
from payments.entrypoints.api import health, ledger, openapi, payments
from payments.entrypoints.api.problems import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_payments_error,
    handle_unexpected,
)
from payments.entrypoints.container import Clock, Container, utc_now
from payments.entrypoints.middleware import RequestContextMiddleware
from payments.entrypoints.web import (
    callbacks,
    checkout,
    sandbox_delivery,
    sandbox_momo,
    sandbox_vietqr,
    sandbox_vnpay,
)
from payments.entrypoints.web.errors import for_pages
from payments.providers.interface import PaymentProvider, ProviderRegistry
from payments.providers.momo import MomoConfig
from payments.providers.momo_provider import MomoProvider
from payments.providers.outcomes import Rejected
from payments.providers.vietqr_provider import VietqrConfig, VietqrProvider
from payments.providers.vnpay import VnpayConfig
from payments.providers.vnpay_provider import VnpayProvider
from payments.services.payments import expire_due_payments, purge_idempotency_records
from payments.services.ports import StatusQuery
from payments.services.requery import requery_due_attempts
from payments.settings import Settings

log = structlog.get_logger()


def all_routes() -> list[BaseRoute]:
    """The JSON API (every one of these is in the OpenAPI document)."""
    return [*health.routes, *openapi.routes, *payments.routes, *ledger.routes]


def page_routes(settings: Settings) -> list[BaseRoute]:
    """Payer pages and provider protocols (HTML and provider formats, not our JSON API)."""
    routes: list[BaseRoute] = [*checkout.routes, *callbacks.routes]
    if settings.sandbox:
        routes.extend([*sandbox_vnpay.routes, *sandbox_momo.routes, *sandbox_vietqr.routes])
    return routes


def outbound_client(settings: Settings, app: Starlette) -> httpx.AsyncClient:
    """The one outbound HTTP client. In sandbox mode the providers live in this very app, so
    calls to our own base URL go straight to it in-process (as well under uvicorn as in tests)."""
    if not settings.sandbox:
        return httpx.AsyncClient(follow_redirects=False)
    own = httpx.URL(settings.base_url)
    origin = f"{own.scheme}://{own.netloc.decode('ascii')}"
    return httpx.AsyncClient(mounts={origin: httpx.ASGITransport(app=app)})


def vnpay_config(settings: Settings) -> VnpayConfig:
    v = settings.vnpay
    return VnpayConfig(v.tmn_code, v.hash_secret, v.pay_url, v.api_url)


def momo_config(settings: Settings) -> MomoConfig:
    m = settings.momo
    return MomoConfig(m.partner_code, m.access_key, m.secret_key, m.api_url)


def vietqr_config(settings: Settings) -> VietqrConfig:
    q = settings.vietqr
    return VietqrConfig(q.bank_bin, q.account_no, q.account_name, q.webhook_secret)


def provider_registry(settings: Settings, http: httpx.AsyncClient) -> ProviderRegistry:
    providers: dict[Provider, PaymentProvider] = {
        Provider.VNPAY: VnpayProvider(vnpay_config(settings), http),
        Provider.MOMO: MomoProvider(momo_config(settings), http),
        Provider.VIETQR: VietqrProvider(vietqr_config(settings)),
    }
    return ProviderRegistry(providers)


def status_query(registry: ProviderRegistry) -> StatusQuery:
    """The providers' status queries as the requery service sees them: an outcome, or None."""

    async def query(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
        provider = registry.get(attempt.provider)
        if provider is None:
            return None
        answer = await provider.query_status(attempt, now=now)
        if isinstance(answer, ProviderOutcome):
            return answer
        reason = answer.reason.value if isinstance(answer, Rejected) else answer.reason
        log.info("requery_unknown", provider=attempt.provider.value, reason=reason)
        return None

    return query


def create_app(settings: Settings, *, clock: Clock = utc_now) -> Starlette:
    configure_logging(settings.log_level, json=settings.log_json)
    problems = settings.provider_problems()
    if problems:
        raise InvalidConfiguration(problems)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        http = outbound_client(settings, app)
        container = Container(
            settings=settings,
            engine=engine,
            uow_factory=SqlUnitOfWorkFactory(engine),
            http=http,
            providers=provider_registry(settings, http),
            clock=clock,
        )
        if settings.sandbox:
            app.state.sandbox_deliveries = sandbox_delivery.Deliveries()
            app.state.vnpay_simulator = sandbox_vnpay.VnpaySimulator(
                vnpay_config(settings), ipn_url=f"{settings.base_url}/callbacks/vnpay/ipn"
            )
            app.state.momo_simulator = sandbox_momo.MomoSimulator(
                momo_config(settings), base_url=settings.base_url
            )
        app.state.container = container
        app.state.openapi = openapi.build_spec(settings.base_url)
        background = []
        if settings.expiry_interval_seconds > 0:
            background.append(asyncio.create_task(_expire_forever(container)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if settings.sandbox:  # delayed simulator callbacks must not outlive the client
                await app.state.sandbox_deliveries.close()
            await http.aclose()
            await engine.dispose()

    return Starlette(
        routes=[*all_routes(), *page_routes(settings)],
        middleware=[Middleware(RequestContextMiddleware)],
        exception_handlers={
            PaymentsError: for_pages(handle_payments_error),
            ApiError: for_pages(handle_api_error),
            HTTPException: for_pages(handle_http_exception),
            Exception: for_pages(handle_unexpected, outermost=True),
        },
        lifespan=lifespan,
    )


async def _expire_forever(container: Container) -> None:
    """Each web process expires overdue payments and forgets stale idempotency keys itself
    until a separate worker takes these jobs over (SKIP LOCKED row claims keep several
    processes from expiring one payment twice)."""
    interval = container.settings.expiry_interval_seconds
    while True:
        try:
            now = container.clock()
            # Ask providers first: a payment about to expire may have been paid.
            asked = await requery_due_attempts(
                container.uow_factory, status_query(container.providers), now=now
            )
            if asked.asked:
                log.info("attempts_requeried", asked=asked.asked, unknown=asked.unknown)
            count = await expire_due_payments(container.uow_factory, now=now)
            if count:
                log.info("payments_expired", count=count)
            purged = await purge_idempotency_records(container.uow_factory, now=now)
            if purged:
                log.info("idempotency_keys_purged", count=purged)
        except Exception:  # a failed sweep must not kill the web process; the next one retries
            log.exception("expiry_sweep_failed")
        await asyncio.sleep(interval)


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and ``payments serve``."""
    return create_app(Settings())
