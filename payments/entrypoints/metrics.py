"""``GET /metrics`` (Prometheus text format) of the web app and of the worker, who may read
it, and the middleware that times every request by its route template.

Who may read it (``metrics_refusal``): each configured check must pass, a network list
(``PAYMENTS_METRICS_NETWORKS``: 403 outside it) and a bearer token
(``PAYMENTS_METRICS_TOKEN``: 401 without it). With neither set, /metrics is open in sandbox
mode (the demo) and off elsewhere (404, like any unknown path): production metrics are never
public by default. The metric definitions are in ``payments/adapters/metrics.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import structlog
import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payments.adapters.metrics import (
    CONTENT_TYPE,
    UNMATCHED,
    DatabaseGauges,
    exposition,
    multiprocess_dir,
    observe_request,
)
from payments.http.container import Container
from payments.http.problems import problem_response
from payments.http.requests import container
from payments.metrics_queries import database_gauges
from payments.settings import Settings

log = structlog.get_logger()


@dataclass(frozen=True)
class Refusal:
    status: int
    slug: str
    title: str
    detail: str
    headers: dict[str, str] | None = None


OFF = Refusal(404, "not-found", "Not found", "Not Found")


def metrics_refusal(
    settings: Settings, authorization: str | None, client_host: str | None
) -> Refusal | None:
    """Why this caller may not read the metrics (None: it may)."""
    networks, token = settings.metrics_allowed_networks, settings.metrics_token
    if not networks and not token:
        return None if settings.sandbox else OFF
    if networks and not _inside(client_host, networks):
        return Refusal(
            403, "not-permitted", "Not permitted", "this address may not read the metrics"
        )
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return Refusal(
                401,
                "not-authenticated",
                "Not authenticated",
                "the metrics need the bearer token (PAYMENTS_METRICS_TOKEN)",
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return None


def _inside(
    host: str | None, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:  # no peer address (a Unix socket) or not an address: not inside
        return False
    # An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return any(address in net or (mapped is not None and mapped in net) for net in networks)


async def metrics(request: Request) -> Response:
    app = container(request)
    settings = app.settings
    client = request.client.host if request.client else None
    refusal = metrics_refusal(settings, request.headers.get("authorization"), client)
    if refusal is not None:
        return problem_response(
            request,
            status=refusal.status,
            slug=refusal.slug,
            title=refusal.title,
            detail=refusal.detail,
            headers=refusal.headers,
        )
    gauges: DatabaseGauges | None
    try:
        gauges = await database_gauges(
            app.engine,
            now=app.clock(),
            payments_window=timedelta(minutes=settings.metrics_payments_window_minutes),
        )
    except (SQLAlchemyError, OSError) as exc:  # the process metrics still answer
        log.warning("metrics_database_unavailable", error=type(exc).__name__)
        gauges = None
    return Response(exposition(gauges, multiprocess=multiprocess_dir()), media_type=CONTENT_TYPE)


routes: list[BaseRoute] = [Route("/metrics", metrics, methods=["GET"])]


# --- request timing --------------------------------------------------------------------------


def route_templates(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[int, str]]:
    """(id of the route object, its full template) for every route, mounts walked through."""
    for route in routes:
        if isinstance(route, Mount):
            yield id(route), f"{prefix}{route.path}/{{path:path}}"
            yield from route_templates(route.routes, prefix + route.path)
        else:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                yield id(route), prefix + path


class RequestMetricsMiddleware:
    """Times every HTTP request and counts its status, labelled by the template of the route
    that answered it (``/v1/payments/{payment_id}``), never the raw path. Starlette's router
    leaves the matched route in the scope; its template comes from the app's route table."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[int, str] | None = None

    def _template(self, scope: Scope) -> str:
        if self._templates is None:
            owner = scope.get("app")
            table = getattr(owner, "routes", [])
            self._templates = dict(route_templates(table))
        route = scope.get("route")
        return self._templates.get(id(route), UNMATCHED) if route is not None else UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            observe_request(
                scope["method"], self._template(scope), status, time.perf_counter() - started
            )


# --- the worker's own /metrics ---------------------------------------------------------------


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside the worker's loop: the worker owns SIGTERM and SIGINT (it stops its
    jobs, then this server), so the server must not take them over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_app(container: Container) -> Starlette:
    app = Starlette(routes=routes)
    app.state.container = container
    return app


def metrics_socket(settings: Settings) -> socket.socket | None:
    """The worker's /metrics socket on ``PAYMENTS_WORKER_METRICS_HOST:PORT``, bound now so
    that a port in use stops the worker before it starts (OSError); None when no port is set."""
    if not settings.worker_metrics_port:
        return None
    return socket.create_server((settings.worker_metrics_host, settings.worker_metrics_port))


@contextlib.asynccontextmanager
async def serving_metrics(container: Container, sock: socket.socket | None) -> AsyncIterator[None]:
    """The worker's /metrics served on ``sock`` while the block runs (nothing without one)."""
    if sock is None:
        yield
        return
    config = uvicorn.Config(
        metrics_app(container), lifespan="off", access_log=False, log_config=None
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()
