"""Build the Starlette application from settings. Resources come alive in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from payments.adapters.db.key_revocations import RevocationListener, listener_dsn
from payments.adapters.logging import configure_logging
from payments.bootstrap import (
    momo_config,
    outbound_client,
    provider_registry,
    settings_engine,
    vnpay_config,
)
from payments.domain.errors import InvalidConfiguration, PaymentsError
from payments.entrypoints import console, metrics
from payments.entrypoints.api import (
    api_keys,
    audit,
    events,
    health,
    ledger,
    openapi,
    payments,
    reconciliation,
    refund_resolutions,
    refunds,
    statements,
)
from payments.entrypoints.middleware import RequestContextMiddleware
from payments.entrypoints.web import callbacks, checkout
from payments.entrypoints.web.errors import for_pages
from payments.entrypoints.worker.jobs import build_worker
from payments.http.container import Clock, Container, utc_now
from payments.http.problems import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_payments_error,
    handle_unexpected,
)
from payments.sandbox import delivery as sandbox_delivery
from payments.sandbox import momo as sandbox_momo
from payments.sandbox import settlements as sandbox_settlements
from payments.sandbox import treasury as sandbox_treasury
from payments.sandbox import vietqr as sandbox_vietqr
from payments.sandbox import vnpay as sandbox_vnpay
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

log = structlog.get_logger()


def all_routes() -> list[BaseRoute]:
    """The JSON API (every one of these is in the OpenAPI document)."""
    return [
        *health.routes,
        *openapi.routes,
        *payments.routes,
        *ledger.routes,
        *events.routes,
        *refunds.routes,
        *refund_resolutions.routes,
        *reconciliation.routes,
        *statements.routes,
        *audit.routes,
        *api_keys.routes,
    ]


def page_routes(settings: Settings) -> list[BaseRoute]:
    """Payer pages and provider protocols (HTML and provider formats, not our JSON API)."""
    routes: list[BaseRoute] = [*checkout.routes, *callbacks.routes, console.mount(settings)]
    if settings.sandbox:
        routes.extend([*sandbox_vnpay.routes, *sandbox_momo.routes, *sandbox_vietqr.routes])
        routes.extend([*sandbox_treasury.routes, *sandbox_settlements.routes])
    return routes


def create_app(settings: Settings, *, clock: Clock = utc_now) -> Starlette:
    configure_logging(settings.log_level, json=settings.log_json)
    problems = settings.provider_problems() + settings.console_problems()
    problems += settings.metrics_problems()
    if problems:
        raise InvalidConfiguration(problems)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = settings_engine(settings)
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
                config=vnpay_config(settings), ipn_url=f"{settings.base_url}/callbacks/vnpay/ipn"
            )
            app.state.momo_simulator = sandbox_momo.MomoSimulator(
                config=momo_config(settings), base_url=settings.base_url
            )
            app.state.treasury_simulator = sandbox_treasury.TreasurySimulator()
        app.state.container = container
        app.state.openapi = openapi.build_spec(settings.base_url)
        # The worker's jobs run in `payments worker` processes; the demo runs them here so a
        # newcomer sees notifications arrive with one process.
        worker = build_worker(container) if settings.run_worker_in_web else None
        background = [asyncio.create_task(worker.run())] if worker else []
        # Revocations reach the key cache as they commit; on SQLite (one process, no signal
        # between processes) nothing listens and the cache is never used.
        listening = (
            [
                asyncio.create_task(
                    RevocationListener(listener_dsn(settings.database_url), container.keys).run()
                )
            ]
            if engine.dialect.name == "postgresql"
            else []
        )
        try:
            yield
        finally:
            for task in listening:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if worker is not None:
                worker.stop()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if settings.sandbox:  # delayed simulator callbacks must not outlive the client
                await app.state.sandbox_deliveries.close()
            await http.aclose()
            await engine.dispose()

    return Starlette(
        routes=[*all_routes(), *page_routes(settings), *metrics.routes],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(metrics.RequestMetricsMiddleware),
        ],
        exception_handlers={
            PaymentsError: for_pages(handle_payments_error),
            ApiError: for_pages(handle_api_error),
            HTTPException: for_pages(handle_http_exception),
            Exception: for_pages(handle_unexpected, outermost=True),
        },
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and ``payments serve``."""
    return create_app(Settings())
