"""The composition root: how a serving process (web, worker, CLI) builds what it runs on from
its settings: the database engine, the one outbound HTTP client and the provider registry.
Entrypoints build from here; nothing here imports an entrypoint (the layers contract)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from payments.adapters.db.engine import make_engine
from payments.adapters.metrics import OutboundTargets, observe_outbound, status_class
from payments.domain.attempts import Provider
from payments.providers.interface import PaymentProvider, ProviderRegistry
from payments.providers.momo.protocol import MomoConfig
from payments.providers.momo.provider import MomoProvider
from payments.providers.vietqr.provider import VietqrConfig, VietqrProvider
from payments.providers.vnpay.protocol import VnpayConfig
from payments.providers.vnpay.provider import VnpayProvider
from payments.settings import Settings

# The one outbound HTTP client type: entrypoints hold it (the container, the CLI) without
# importing httpx, which lives only in provider clients, statement sources and the notifier.
OutboundClient = httpx.AsyncClient


class MeteredClient(httpx.AsyncClient):
    """The outbound client, timing each call and counting how it ended by who was called
    (``payments_outbound_*``): provider APIs and reports, statements, anchors, notifications."""

    def __init__(self, targets: OutboundTargets, **options: Any) -> None:
        super().__init__(**options)
        self._targets = targets

    async def send(self, request: httpx.Request, **options: Any) -> httpx.Response:
        target, started = self._targets.target(str(request.url)), time.perf_counter()
        try:
            response = await super().send(request, **options)
        except httpx.TimeoutException:
            observe_outbound(target, "timeout", time.perf_counter() - started)
            raise
        except httpx.TransportError:
            observe_outbound(target, "network_error", time.perf_counter() - started)
            raise
        except Exception:
            observe_outbound(target, "error", time.perf_counter() - started)
            raise
        observe_outbound(target, status_class(response.status_code), time.perf_counter() - started)
        return response


def outbound_targets(settings: Settings) -> OutboundTargets:
    """Who each configured outbound URL belongs to, for the outbound metrics' ``target``."""
    v, m = settings.vnpay, settings.momo
    return OutboundTargets.of(
        [
            *((Provider.VNPAY.value, url) for url in (v.pay_url, v.api_url, v.settlement_url)),
            *((Provider.MOMO.value, url) for url in (m.api_url, m.settlement_url)),
            ("treasury", settings.statement_url),
            ("ledger_anchor", settings.ledger_anchor_url or ""),
        ]
    )


def network_client(settings: Settings | None = None) -> httpx.AsyncClient:
    """An outbound client for a process without the sandbox simulators in it (the worker, the
    CLI): every call goes over the network, redirects are not followed. Without settings its
    calls are all counted as ``other``."""
    targets = outbound_targets(settings) if settings is not None else OutboundTargets()
    return MeteredClient(targets, follow_redirects=False)


def outbound_client(settings: Settings, app: ASGIApp) -> httpx.AsyncClient:
    """The one outbound HTTP client. In sandbox mode the providers live in this very app, so
    calls to our own base URL go straight to it in-process (as well under uvicorn as in tests)."""
    if not settings.sandbox:
        return network_client(settings)
    own = httpx.URL(settings.base_url)
    origin = f"{own.scheme}://{own.netloc.decode('ascii')}"
    return MeteredClient(outbound_targets(settings), mounts={origin: httpx.ASGITransport(app=app)})


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


def settings_engine(settings: Settings) -> AsyncEngine:
    """The engine of a serving process (web or worker), sized by the settings."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
