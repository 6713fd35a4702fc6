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

from payments.adapters.db.engine import make_engine
from payments.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from payments.adapters.logging import configure_logging
from payments.domain.errors import PaymentsError
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
from payments.services.payments import expire_due_payments, purge_idempotency_records
from payments.settings import Settings

log = structlog.get_logger()


def all_routes() -> list[BaseRoute]:
    return [*health.routes, *openapi.routes, *payments.routes, *ledger.routes]


def create_app(settings: Settings, *, clock: Clock = utc_now) -> Starlette:
    configure_logging(settings.log_level, json=settings.log_json)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        container = Container(
            settings=settings, engine=engine, uow_factory=SqlUnitOfWorkFactory(engine), clock=clock
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
            await engine.dispose()

    return Starlette(
        routes=all_routes(),
        middleware=[Middleware(RequestContextMiddleware)],
        exception_handlers={
            PaymentsError: handle_payments_error,
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
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
