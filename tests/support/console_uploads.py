"""Uploading a statement at the staff console: a day with two payments paid and a treasury
officer's key, and the upload form posted as a browser does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from payments.domain.access import Role
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import BASE_URL
from tests.support.console_pages import page, token_of
from tests.support.reconcile_days import DAY, gateway

UPLOAD = "/console/statements/upload"


@dataclass(frozen=True)
class Day:
    paid: tuple[str, str]
    key: str
    key_id: int

    @property
    def actor(self) -> str:
        return f"apikey:{self.key_id}"


async def make_day(uow_factory: SqlUnitOfWorkFactory) -> Day:
    """Two payments paid that day, and a treasury staff member's key."""
    gw = await gateway(uow_factory)
    first, second = await gw.paid(150_000), await gw.paid(90_000)
    key, plain = await create_api_key(
        uow_factory,
        agency_code="DVC",
        role=Role.TREASURY,
        label="Nguyễn Thị Lan",
        actor="t",
        now=datetime.now(UTC),
    )
    return Day((first.id, second.id), plain, key.id)


async def upload(
    http: httpx.AsyncClient,
    content: bytes,
    *,
    name: str = "kbnn-20250312.csv",
    media: str = "text/csv",
    token: str | None = "from-the-form",
    headers: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> httpx.Response:
    if token == "from-the-form":
        token = token_of(await page(http, UPLOAD))
    data = {"business_date": DAY.isoformat(), "source": "treasury", "format": "", **(fields or {})}
    if token is not None:
        data["csrf_token"] = token
    # A browser sends Origin with a form's POST (the upload refuses one without).
    sent = {"Origin": BASE_URL, **(headers or {})}
    return await http.post(UPLOAD, data=data, files={"file": (name, content, media)}, headers=sent)
