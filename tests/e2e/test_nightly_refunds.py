"""The nightly job checks refunds against the providers' own reports, through the sandbox: a
finance officer refunds over the API, the VNPay or MoMo simulator pays it out and its
settlement report of the day lists it, and that night the refund is matched (a rerun matches
it again and records nothing twice). A refund the gateway booked as paid that the
simulator's book does not hold is missing at the provider once the settlement window is
over; one the simulator paid that the gateway holds as unknown is unknown at the gateway.
Every such item names the refund and its payment in the API and the CSV export."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from payments.domain.access import Role
from payments.domain.attempts import Provider
from payments.entrypoints.app import create_app
from payments.entrypoints.worker.jobs import daily_jobs
from payments.http.container import Container
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.storage.tables import reconcile_refund_matches
from payments.reconcile.usecases.nightly import NightResult
from payments.sandbox.faults import Fault, Faults
from payments.sandbox.refunds import RefundBook
from tests.support.api import BASE_URL, Portal, make_portal
from tests.support.checkout_flows import (
    choose_momo,
    choose_vnpay,
    create,
    pay_momo,
    pay_vnpay,
    status,
)
from tests.support.nightly_sandbox import sandbox_settings
from tests.support.reconcile_days import CAPTURED, DAY, NIGHT

PROVIDERS = pytest.mark.parametrize("provider", [Provider.VNPAY, Provider.MOMO])
# The night the default settlement window (3 business days) of DAY's refunds is over.
WINDOW_END = DEFAULT_CALENDAR.add_business_days(DAY, 3)
WINDOW_END_NIGHT = NIGHT + (WINDOW_END - DAY)
REFUND_OUTCOMES = (
    "refund_matched",
    "refund_missing_at_provider",
    "refund_unknown_at_gateway",
    "refund_amount_mismatch",
    "refund_duplicate",
)


@dataclass
class Sandbox:
    http: httpx.AsyncClient
    container: Container
    portal: Portal
    state: Any  # the app's state: its simulators

    def book(self, provider: Provider) -> RefundBook:
        book: RefundBook = getattr(self.state, f"{provider.value}_simulator").refunds
        return book

    def faults(self, provider: Provider) -> Faults:
        faults: Faults = getattr(self.state, f"{provider.value}_simulator").faults
        return faults

    async def paid(self, provider: Provider) -> str:
        """A payment the payer paid on the provider's simulator pages."""
        payment = await create(self.http, self.portal, amount=150_000)
        if provider is Provider.VNPAY:
            await pay_vnpay(self.http, await choose_vnpay(self.http, payment), "success")
        else:
            await pay_momo(self.http, await choose_momo(self.http, payment), "success")
        assert await status(self.http, self.portal, payment["id"]) == "succeeded"
        return str(payment["id"])

    async def refund(self, payment_id: str, amount: int = 30_000) -> dict[str, Any]:
        headers = {**self.portal.auth(Role.FINANCE), "Idempotency-Key": uuid.uuid4().hex}
        answer = await self.http.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": amount, "reason": "Thu trùng lệ phí"},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        refund: dict[str, Any] = answer.json()
        return refund

    async def night(self, day: Any = DAY, now: Any = NIGHT) -> NightResult:
        [job] = daily_jobs(self.container)
        night = await job.run(day, now)
        assert isinstance(night, NightResult)
        return night

    async def refund_items(self, run_id: int) -> list[dict[str, Any]]:
        """The run's refund items as the API shows them to treasury staff."""
        answer = await self.http.get(
            f"/v1/reconciliation/runs/{run_id}/items",
            params={"outcome": list(REFUND_OUTCOMES), "limit": 500},
            headers=self.portal.auth(Role.TREASURY),
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["data"]
        return items

    async def csv(self, run_id: int) -> str:
        answer = await self.http.get(
            f"/v1/reconciliation/runs/{run_id}/items.csv",
            headers=self.portal.auth(Role.TREASURY),
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    async def first_matches(self) -> int:
        async with self.container.engine.connect() as conn:
            return int(
                await conn.scalar(select(func.count()).select_from(reconcile_refund_matches)) or 0
            )


@asynccontextmanager
async def sandbox(database_url: str) -> AsyncIterator[Sandbox]:
    # The app's clock stands at 09:00 in Hanoi on DAY: payments and refunds are DAY's.
    app = create_app(sandbox_settings(database_url), clock=lambda: CAPTURED)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            container: Container = app.state.container
            portal = await make_portal(container.uow_factory, CAPTURED)
            yield Sandbox(client, container, portal, app.state)


def brief(items: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    return [(i["outcome"], i["refund_id"], i["payment_id"], i["state"]) for i in items]


@PROVIDERS
async def test_a_refund_the_provider_paid_is_matched_that_night(
    database_url: str, provider: Provider
) -> None:
    async with sandbox(database_url) as sb:
        payment_id = await sb.paid(provider)
        refund = await sb.refund(payment_id)
        assert refund["status"] == "succeeded"
        [paid_out] = sb.book(provider).refunds.values()
        night = await sb.night()
        items = await sb.refund_items(night.day.run.id)
        exported = await sb.csv(night.day.run.id)
        again = await sb.night()  # the same night once more
        again_items = await sb.refund_items(again.day.run.id)
        recorded = await sb.first_matches()

    assert brief(items) == [("refund_matched", refund["id"], payment_id, "closed")]
    [item] = items
    assert (item["gateway_amount"], item["treasury_amount"]) == (30_000, 30_000)
    assert (item["provider"], item["reference"]) == (provider.value, refund["id"])
    assert item["note"] == f"provider refund {paid_out.refund_no}"
    assert f"refund_matched,closed,{payment_id},{refund['id']}," in exported
    assert brief(again_items) == brief(items)
    assert again.day.run.totals == night.day.run.totals
    assert recorded == 1  # the first match is recorded once


@PROVIDERS
async def test_a_refund_the_provider_never_paid_is_missing_once_the_window_is_over(
    database_url: str, provider: Provider
) -> None:
    async with sandbox(database_url) as sb:
        payment_id = await sb.paid(provider)
        refund = await sb.refund(payment_id)
        assert refund["status"] == "succeeded"
        # The provider's books lose it: its report will not list it.
        del sb.book(provider).refunds[refund["id"]]
        night = await sb.night()
        that_night = await sb.refund_items(night.day.run.id)
        later = await sb.night(WINDOW_END, WINDOW_END_NIGHT)
        items = await sb.refund_items(later.day.run.id)

    assert that_night == []  # inside the settlement window the provider may still list it
    assert brief(items) == [("refund_missing_at_provider", refund["id"], payment_id, "open")]
    [item] = items
    assert (item["gateway_amount"], item["treasury_amount"], item["line_number"]) == (
        30_000,
        None,
        None,
    )
    assert f"paid at the gateway on {DAY.isoformat()}" in item["note"]


@PROVIDERS
async def test_a_refund_the_provider_paid_that_the_gateway_holds_as_unknown(
    database_url: str, provider: Provider
) -> None:
    async with sandbox(database_url) as sb:
        payment_id = await sb.paid(provider)
        # The provider makes the refund, but its answer is an HTTP 500: the gateway cannot
        # tell what became of it.
        sb.faults(provider).plan("refund", Fault.ACTED_ERROR)
        refund = await sb.refund(payment_id)
        assert refund["status"] == "unknown"
        [paid_out] = sb.book(provider).refunds.values()
        night = await sb.night()
        items = await sb.refund_items(night.day.run.id)

    assert paid_out.request_id == refund["id"]
    assert brief(items) == [("refund_unknown_at_gateway", refund["id"], payment_id, "open")]
    [item] = items
    assert (item["gateway_amount"], item["treasury_amount"]) == (None, 30_000)
    assert "unknown at the gateway" in item["note"]
    assert item["line_number"] is not None


async def test_a_report_line_naming_no_refund_is_unknown_at_the_gateway(database_url: str) -> None:
    async with sandbox(database_url) as sb:
        payment_id = await sb.paid(Provider.VNPAY)
        refund = await sb.refund(payment_id)
        # VNPay's book has a refund the gateway never asked for (another merchant's, say).
        [paid_out] = sb.book(Provider.VNPAY).refunds.values()
        stranger = "rfd_01JP00000000000000000STRGR"
        sb.book(Provider.VNPAY).refunds[stranger] = type(paid_out)(
            **{**paid_out.__dict__, "request_id": stranger, "refund_no": "15999999"}
        )
        night = await sb.night()
        items = await sb.refund_items(night.day.run.id)

    assert sorted(brief(items), key=str) == sorted(
        [
            ("refund_matched", refund["id"], payment_id, "closed"),
            ("refund_unknown_at_gateway", None, None, "open"),
        ],
        key=str,
    )
    [unknown] = [i for i in items if i["refund_id"] is None]
    assert (unknown["reference"], unknown["note"]) == (stranger, "provider refund 15999999")
