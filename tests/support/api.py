"""Building the app for HTTP tests, and test data factories."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from payments.adapters.db.engine import make_engine
from payments.domain.access import Role
from payments.entrypoints.app import create_app
from payments.http.container import Clock, Container, utc_now
from payments.services.access import create_agency, create_api_key
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

BASE_URL = "https://pay.test"
# Outside sandbox mode the app refuses to start without real-looking provider settings.
TEST_PROVIDERS: dict[str, str] = {
    "vnpay_tmn_code": "TESTTMN1",
    "vnpay_hash_secret": "test-vnpay-hash-secret-0123456789",
    "vnpay_pay_url": "https://vnpay.test/paymentv2/vpcpay.html",
    "vnpay_api_url": "https://vnpay.test/merchant_webapi/api/transaction",
    "momo_partner_code": "TESTMOMO",
    "momo_access_key": "test-momo-access-key",
    "momo_secret_key": "test-momo-secret-key",
    "momo_api_url": "https://momo.test",
    "vietqr_bank_bin": "970415",
    "vietqr_account_no": "113366668888",
    "vietqr_account_name": "KBNN TEST",
    "vietqr_webhook_secret": "test-vietqr-webhook-secret",
    "session_secret": "test-console-session-secret-0123456789",
}
_sequence = itertools.count(1)


@dataclass
class Portal:
    """An agency and one key per role."""

    code: str
    keys: dict[Role, str]

    def auth(self, role: Role = Role.PORTAL) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def make_portal(
    uow: SqlUnitOfWorkFactory, now: datetime, hosts: tuple[str, ...] = ("portal.example.vn",)
) -> Portal:
    code = f"AG{next(_sequence)}"
    await create_agency(
        uow, code=code, name=f"Agency {code}", allowed_hosts=list(hosts), actor="test", now=now
    )
    keys = {}
    for role in Role:
        _, plain = await create_api_key(
            uow, agency_code=code, role=role, label=None, actor="test", now=now
        )
        keys[role] = plain
    return Portal(code=code, keys=keys)


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": f"HS-{next(_sequence):06d}",
        "kind": "fee",
        "amount": 150_000,
        "currency": "VND",
        "description": "Lệ phí cấp hộ chiếu",
        "payer": {"name": "Nguyễn Văn A", "id_number": "001099012345"},
        "budget": {
            "treasury_account": "7111",
            "treasury_code": "0011",
            "collecting_agency": "1054321",
            "chapter": "755",
            "sub_item": "2662",
        },
        "return_url": "https://portal.example.vn/return",
    }
    body.update(overrides)
    return body


@asynccontextmanager
async def api_client(
    database_url: str, *, clock: Clock = utc_now, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_app(database_url, clock=clock, **settings) as (client, _):
        yield client


@asynccontextmanager
async def api_app(
    database_url: str, *, clock: Clock = utc_now, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    """The app started, a client of it and what it holds (its key cache, for one)."""
    options: dict[str, Any] = {
        "database_url": database_url,
        "base_url": BASE_URL,
        "expiry_interval_seconds": 0,
        "log_level": "warning",
        **({} if settings.get("sandbox") else TEST_PROVIDERS),
        **settings,
    }
    config = Settings(**options)
    app = create_app(config, clock=clock)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client, app.state.container


def uow_for(database_url: str) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(make_engine(database_url))
