"""POST /v1/reconciliation/runs runs the day off the web process's event loop: while the run
is held halfway (its run row about to be written), the same process still answers; the answer
is the run as before, and the errors are the same problems. In sandbox mode the run's status
queries reach the simulators through a client of the run's own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event
from sqlalchemy.engine import Engine

from payments.domain.access import Role
from payments.entrypoints.app import create_app
from payments.reconcile.usecases.reports import list_runs
from payments.services.access import create_api_key
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import BASE_URL, Portal, api_client
from tests.support.checkout_flows import choose_vnpay, create, pay_vnpay, status
from tests.support.reconcile_days import (
    DAY,
    csv_line,
    gateway,
    import_csv,
    next_day,
    statement,
)

RUNS = "/v1/reconciliation/runs"
HOLD_SECONDS = 20  # how long a held run waits for the test at most (never reached when green)
VIETNAM = timedelta(hours=7)


@dataclass
class Hold:
    """Holds the run where it writes its run row, on whichever thread that is."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    left: threading.Event = field(default_factory=threading.Event)
    threads: list[int] = field(default_factory=list)

    def __call__(self, *args: Any) -> None:
        statement: str = args[2]
        if not statement.lstrip().upper().startswith("INSERT INTO RECONCILE_RUNS"):
            return
        self.threads.append(threading.get_ident())
        self.entered.set()
        self.release.wait(HOLD_SECONDS)
        self.left.set()


@pytest.fixture
def hold() -> Iterator[Hold]:
    held = Hold()
    event.listen(Engine, "before_cursor_execute", held)
    try:
        yield held
    finally:
        held.release.set()
        event.remove(Engine, "before_cursor_execute", held)


async def treasury_key(uow: SqlUnitOfWorkFactory) -> dict[str, str]:
    _, plain = await create_api_key(
        uow, agency_code="DVC", role=Role.TREASURY, label=None, actor="t", now=datetime.now(UTC)
    )
    return {"Authorization": f"Bearer {plain}"}


async def test_the_process_answers_while_a_run_is_under_way(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, hold: Hold
) -> None:
    gw = await gateway(uow_factory)
    matched = await gw.paid(150_000)
    await gw.paid(90_000)  # missing at the treasury
    await import_csv(uow_factory, statement(csv_line(matched.id), csv_line("NOIDUNG-LA", 7)))
    auth = await treasury_key(uow_factory)
    async with api_client(database_url) as client:
        started = asyncio.create_task(
            client.post(RUNS, json={"business_date": DAY.isoformat()}, headers=auth)
        )
        assert await asyncio.to_thread(hold.entered.wait, HOLD_SECONDS)
        # On the web process's loop, the held run would hold the loop too: this could only
        # be answered once the run had gone on.
        alive = await client.get("/healthz")
        assert alive.status_code == 200
        assert not hold.left.is_set(), "the run blocked the event loop"
        assert hold.threads == [hold.threads[0]]
        assert hold.threads[0] != threading.get_ident()
        hold.release.set()
        answer = await started

        assert answer.status_code == 201, answer.text
        body = answer.json()
        [run] = await list_runs(uow_factory)
        assert body["id"] == run.id
        assert (body["business_date"], body["actor"]) == (DAY.isoformat(), run.actor)
        assert run.actor.startswith("apikey:")
        assert body["totals"]["matched"] == {
            "count": 1,
            "gateway_amount": 150_000,
            "treasury_amount": 150_000,
        }
        assert body["totals"]["missing_at_treasury"]["count"] == 1
        assert (body["posted_payments"], body["item_count"]) == (0, 3)
        assert (body["settled_payments"], body["awaiting_settlement"]) == (0, 1)
        report = (await client.get(f"{RUNS}/{run.id}", headers=auth)).json()
        assert {k: report[k] for k in body} == body


async def test_the_same_problems_as_before(
    client: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    auth = portal.auth(Role.TREASURY)
    none_imported = await client.post(
        RUNS, json={"business_date": next_day(DAY).isoformat()}, headers=auth
    )
    assert none_imported.status_code == 409
    assert none_imported.headers["content-type"].startswith("application/problem+json")
    assert "no treasury statement" in none_imported.json()["detail"]
    bad = await client.post(RUNS, json={"business_date": "2025-02-30"}, headers=auth)
    assert bad.status_code == 422
    assert await list_runs(uow_factory) == []


async def test_status_queries_reach_the_sandbox_simulator(
    database_url: str, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """A credit naming a payment still pending at the gateway (its IPN was lost): the run asks
    VNPay (the simulator in this very app, through the run's own client), which says paid."""
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            payment = await create(http, portal)
            await pay_vnpay(http, await choose_vnpay(http, payment), "success", drop_ipn="1")
            assert await status(http, portal, payment["id"]) == "pending"
            today = (datetime.now(UTC) + VIETNAM).date()
            line = csv_line(payment["id"], payment["amount"], booked=today)
            await import_csv(uow_factory, statement(line), today, at=datetime.now(UTC))
            answer = await http.post(
                RUNS, json={"business_date": today.isoformat()}, headers=portal.auth(Role.TREASURY)
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["totals"]["unknown_at_gateway"]["count"] == 1
            assert await status(http, portal, payment["id"]) == "succeeded"
