"""The composition root: how a serving process (web, worker, CLI) builds what it runs on from
its settings: the database engine, the one outbound HTTP client and the provider registry.
Entrypoints build from here; nothing here imports an entrypoint (the layers contract)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from payments.adapters.db.engine import make_engine
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


def network_client() -> httpx.AsyncClient:
    """An outbound client for a process without the sandbox simulators in it (the worker, the
    CLI): every call goes over the network, redirects are not followed."""
    return httpx.AsyncClient(follow_redirects=False)


def outbound_client(settings: Settings, app: ASGIApp) -> httpx.AsyncClient:
    """The one outbound HTTP client. In sandbox mode the providers live in this very app, so
    calls to our own base URL go straight to it in-process (as well under uvicorn as in tests)."""
    if not settings.sandbox:
        return network_client()
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


def settings_engine(settings: Settings) -> AsyncEngine:
    """The engine of a serving process (web or worker), sized by the settings."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
