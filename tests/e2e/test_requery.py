"""Requery over the real providers: a dropped IPN is found by querydr on the simulator; an
abandoned checkout is asked the ladder once (counted at the simulator) and left for review; a
provider timeout makes an attempt the provider never answered about ``unknown``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payments.collection.usecases.requery import requery_due_attempts
from payments.domain.attempts import REQUERY_LADDER
from payments.entrypoints.app import create_app
from payments.entrypoints.worker.jobs import periodic_jobs, status_query
from payments.http.container import Container
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal
from tests.support.checkout_flows import (
    choose_momo,
    choose_vnpay,
    create,
    pay_momo,
    pay_vnpay,
    status,
)
from tests.support.sandbox_gateway import Gateway, gateway


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
            await pay_vnpay(http, await choose_vnpay(http, by_vnpay), "success", drop_ipn="1")
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


def requery_job(gw: Gateway) -> Callable[[], Awaitable[object]]:
    """The worker's own round: requery the due attempts, then expire overdue payments."""
    jobs = periodic_jobs(gw.container, "test-worker")
    return next(job.run for job in jobs if job.name == "requery-and-expiry")


@pytest.mark.parametrize(("provider", "operation"), [("vnpay", "querydr"), ("momo", "query")])
async def test_an_abandoned_checkout_is_asked_the_ladder_once_then_left_for_review(
    database_url: str, portal: Portal, provider: str, operation: str
) -> None:
    async with gateway(database_url, portal) as gw:
        started = gw.clock.now
        payment = await gw.create(expires_at=(started + timedelta(minutes=20)).isoformat())
        assert (await gw.choose(payment, provider)).status_code == 303  # and never pays
        simulator = gw.vnpay if provider == "vnpay" else gw.momo
        requery_and_expire = requery_job(gw)
        # The worker's rounds every 30 s (its default) for three hours, then every 10 minutes
        # to a day and an hour: every step of the ladder comes on time.
        while gw.clock.now < started + timedelta(hours=25):
            gw.clock.now += timedelta(
                seconds=30 if gw.clock.now < started + timedelta(hours=3) else 600
            )
            await requery_and_expire()
        # The six steps of the ladder and the payment's expiry, counted at the provider.
        assert simulator.faults.calls[operation] == len(REQUERY_LADDER) + 1
        body = await gw.read(payment["id"])
        assert body["status"] == "expired"
        (attempt,) = body["attempts"]
        assert (attempt["status"], attempt["next_query_at"]) == ("pending", None)
        assert attempt["query_count"] == len(REQUERY_LADDER) + 1
        assert attempt["left_for_review_at"] is not None
        listed = await gw.http.get(
            "/v1/payments", params={"left_for_review": "true"}, headers=portal.auth()
        )
        assert [p["id"] for p in listed.json()["data"]] == [payment["id"]]


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("vnpay", "/sandbox/vnpay/merchant_webapi/api/transaction"),
        ("momo", "/sandbox/momo/v2/gateway/api/query"),
    ],
)
async def test_a_query_timeout_makes_an_unanswered_attempt_unknown(
    database_url: str, portal: Portal, provider: str, path: str
) -> None:
    async with gateway(database_url, portal) as gw:
        payment = await gw.create()
        assert (await gw.choose(payment, provider)).status_code == 303
        gw.stalls.paths.add(path)
        gw.clock.now += timedelta(minutes=1)
        report = await requery_due_attempts(
            gw.container.uow_factory, status_query(gw.container.providers), now=gw.clock.now
        )
        assert (report.asked, report.unknown) == (1, 1)
        body = await gw.read(payment["id"])
        assert body["status"] == "pending"
        (attempt,) = body["attempts"]
        assert (attempt["status"], attempt["query_count"]) == ("unknown", 1)
        # Only the provider's answer replaces it: the payer has not paid, "later".
        gw.stalls.paths.clear()
        gw.clock.now += timedelta(minutes=4)
        await requery_due_attempts(
            gw.container.uow_factory, status_query(gw.container.providers), now=gw.clock.now
        )
        (attempt,) = (await gw.read(payment["id"]))["attempts"]
        assert attempt["status"] == "pending"
        # From now on the provider has spoken: another timeout leaves its answer standing.
        gw.stalls.paths.add(path)
        gw.clock.now += timedelta(minutes=25)
        await requery_due_attempts(
            gw.container.uow_factory, status_query(gw.container.providers), now=gw.clock.now
        )
        (attempt,) = (await gw.read(payment["id"]))["attempts"]
        assert (attempt["status"], attempt["query_count"]) == ("pending", 3)
