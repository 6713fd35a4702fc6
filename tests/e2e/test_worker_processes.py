"""Many processes on one PostgreSQL, as in production: 3 ``payments worker`` and 2 web
processes (uvicorn) under a stream of payments and provider callbacks; and a worker killed
with SIGKILL in the middle of its deliveries.

Every notification reaches the test's receiver, which verifies each one with
``standardwebhooks``. Workers claim rows with FOR UPDATE SKIP LOCKED and a lease, so an event
is posted twice only when a claim lapsed (here: only when its holder was killed).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from payments.adapters.db import tables as t
from payments.adapters.db.scheduled_runs import scheduled_runs
from payments.notifications.tables import notification_deliveries, notifications
from payments.notifications.usecases import rotate_webhook_secret
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, make_portal, payment_body
from tests.support.webhook_receiver import Receiver, free_port, serving

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.DEVNULL,
    )


def base_env(database_url: str) -> dict[str, str]:
    return {
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_SANDBOX": "true",
        "PAYMENTS_LOG_LEVEL": "warning",
        "PAYMENTS_DB_POOL_SIZE": "3",
    }


def start_web(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**base_env(database_url), "PAYMENTS_BASE_URL": f"http://127.0.0.1:{port}"}
    args = ["-m", "uvicorn", "payments.entrypoints.app:app_from_env", "--factory"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return spawn(args, env)


def start_worker(
    database_url: str, web_base: str, nightly_log: Path, lease_seconds: int
) -> subprocess.Popen[bytes]:
    env = {
        **base_env(database_url),
        # The sandbox providers' query APIs are served by the web process at this URL.
        "PAYMENTS_BASE_URL": web_base,
        "PAYMENTS_WORKER_POLL_MS": "100",
        "PAYMENTS_WORKER_LEASE_SECONDS": str(lease_seconds),
        "PAYMENTS_NOTIFY_TIMEOUT_SECONDS": "5",
        "PAYMENTS_EXPIRY_INTERVAL_SECONDS": "1",
        "PAYMENTS_NIGHTLY_AT": "00:00",  # passed already today in Vietnam: due at once
        "TEST_NIGHTLY_LOG": str(nightly_log),
    }
    code = "from payments.entrypoints.cli import main; main()"
    return spawn(["-c", code, "worker", "--jobs-from", "tests.support.worker_jobs:nightly"], env)


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait()


async def until(condition: Callable[[], object], seconds: int, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 30
        while True:
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{base} did not start"
            await asyncio.sleep(0.1)


async def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, 30)


@pytest.fixture
async def setup(uow_factory: SqlUnitOfWorkFactory) -> tuple[Portal, str]:
    now = datetime.now(UTC)
    portal = await make_portal(uow_factory, now, hosts=("127.0.0.1:*",))  # receivers: free ports
    secret = await rotate_webhook_secret(
        uow_factory, agency_code=portal.code, overlap=timedelta(hours=1), actor="test", now=now
    )
    return portal, secret


class Portals:
    """What a portal does over HTTP against one web process."""

    def __init__(self, http: httpx.AsyncClient, base: str, portal: Portal, notify: str) -> None:
        self.http, self.base, self.portal, self.notify = http, base, portal, notify

    async def create(self) -> dict[str, str]:
        answer = await self.http.post(
            f"{self.base}/v1/payments",
            json=payment_body(return_url="http://127.0.0.1/back", notify_url=self.notify),
            headers={**self.portal.auth(), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, str] = answer.json()
        return created

    async def choose(self, payment: dict[str, str], provider: str) -> str:
        answer = await self.http.post(
            payment["checkout_url"], data={"provider": provider}, headers={"Origin": self.base}
        )
        assert answer.status_code == 303, answer.text
        location: str = answer.headers["location"]
        return location

    async def pay_vietqr(self) -> str:
        payment = await self.create()
        page_url = await self.choose(payment, "vietqr")
        page = await self.http.get(page_url)
        found = re.search(r"<strong>(PF[A-Z0-9]{10})</strong>", page.text)
        assert found is not None
        sent = await self.http.post(
            f"{self.base}/sandbox/vietqr/transfer",
            data={"reference": found.group(1), "choice": "exact", "back": urlsplit(page_url).path},
        )
        assert sent.status_code == 303
        return payment["id"]

    async def pay_vnpay_ipn_lost(self) -> str:
        """Paid at VNPay, but the IPN never comes: only a requery can find out."""
        payment = await self.create()
        pay_url = await self.choose(payment, "vnpay")
        assert (await self.http.get(pay_url)).status_code == 200
        txn_ref = dict(parse_qsl(urlsplit(pay_url).query))["vnp_TxnRef"]
        paid = await self.http.post(
            f"{self.base}/sandbox/vnpay/paymentv2/pay",
            data={"txn_ref": txn_ref, "outcome": "success", "drop_ipn": "1"},
        )
        assert paid.status_code == 303
        return payment["id"]

    async def cancel(self) -> str:
        payment = await self.create()
        answer = await self.http.post(
            f"{self.base}/v1/payments/{payment['id']}/cancel", headers=self.portal.auth()
        )
        assert answer.status_code == 200
        return payment["id"]


async def outbox_states(uow: SqlUnitOfWorkFactory) -> Counter[str]:
    async with uow() as tx:
        rows = await tx.connection.execute(
            select(notifications.c.state, func.count()).group_by(notifications.c.state)
        )
        return Counter({state: count for state, count in rows})


async def test_three_workers_two_web_processes(
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    setup: tuple[Portal, str],
    tmp_path: Path,
) -> None:
    portal, secret = setup
    receiver = Receiver([secret])
    nightly_log = tmp_path / "nightly.log"
    webs = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    async with serving(receiver) as receiver_base, httpx.AsyncClient(timeout=30) as http:
        with processes() as running:
            for base in webs:
                running.append(start_web(database_url, int(base.rsplit(":", 1)[1])))
            for base in webs:
                await wait_ready(base)
            workers = [start_worker(database_url, webs[0], nightly_log, 30) for _ in range(3)]
            running.extend(workers)

            first, second = (Portals(http, b, portal, f"{receiver_base}/n") for b in webs)
            by_ipn_lost: list[str] = []
            for round_no in range(8):
                side = first if round_no % 2 == 0 else second
                await asyncio.gather(side.pay_vietqr(), side.cancel(), second.pay_vietqr())
                # VNPay's simulator keeps its orders in the web process the worker queries.
                by_ipn_lost.append(await first.pay_vnpay_ipn_lost())
            # Their first requery step is a minute away: make it due now for every worker.
            async with uow_factory() as tx:
                await tx.connection.execute(
                    update(t.payment_attempts)
                    .where(t.payment_attempts.c.payment_id.in_(by_ipn_lost))
                    .values(next_query_at=datetime.now(UTC))
                )
                await tx.commit()

            async def settled() -> bool:
                states = await outbox_states(uow_factory)
                # Per round: 3 payments go pending then succeed, 1 is cancelled.
                return states["pending"] == 0 and states["delivered"] == 8 * 7

            deadline = time.monotonic() + 45
            while not await settled():
                assert time.monotonic() < deadline, await outbox_states(uow_factory)
                await asyncio.sleep(0.2)
            await until(nightly_log.exists, 10, "the nightly run")
            await asyncio.sleep(1)  # time for any wrong second delivery or nightly run
            codes = [await stop(w) for w in workers]

    assert codes == [0, 0, 0]  # SIGTERM: finish the round, exit cleanly
    async with uow_factory() as tx:
        conn = tx.connection
        events = (await conn.execute(select(notifications.c.id, notifications.c.type))).all()
        attempts = Counter(
            row.notification_id
            for row in await conn.execute(select(notification_deliveries.c.notification_id))
        )
        queries = (
            await conn.execute(
                select(t.provider_callbacks.c.provider_ref, func.count())
                .where(t.provider_callbacks.c.channel == "query")
                .group_by(t.provider_callbacks.c.provider_ref)
            )
        ).all()
        runs = (await conn.execute(select(scheduled_runs))).all()
        statuses = (
            (
                await conn.execute(
                    select(t.payments.c.status).where(t.payments.c.id.in_(by_ipn_lost))
                )
            )
            .scalars()
            .all()
        )
    types = Counter(e.type for e in events)
    assert types == {"payment.pending": 24, "payment.succeeded": 24, "payment.cancelled": 8}
    # Every event delivered exactly once: no claim lapsed, so no duplicate.
    assert Counter(receiver.ids()) == {e.id: 1 for e in events}
    assert attempts == {e.id: 1 for e in events}
    assert all(r.verified_by == (secret,) and r.answered == 200 for r in receiver.received)
    # Each lost IPN found by exactly one query in the ladder's first step, by one worker.
    assert statuses == ["succeeded"] * 8
    assert len(queries) == 8
    assert all(count == 1 for _, count in queries)
    # One nightly run across three workers.
    assert len(runs) == 1
    assert (runs[0].job, runs[0].state, runs[0].attempts) == ("nightly-test", "done", 1)
    assert len(nightly_log.read_text().splitlines()) == 1


async def test_a_worker_killed_mid_delivery_loses_nothing(
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    setup: tuple[Portal, str],
    tmp_path: Path,
) -> None:
    portal, secret = setup
    receiver = Receiver([secret], slow_seconds=2)
    receiver.script = ["slow"] * 12  # slow first: deliveries are in flight when it dies
    nightly_log = tmp_path / "nightly.log"
    web = f"http://127.0.0.1:{free_port()}"
    lease = 4
    async with serving(receiver) as receiver_base, httpx.AsyncClient(timeout=30) as http:
        with processes() as running:
            running.append(start_web(database_url, int(web.rsplit(":", 1)[1])))
            await wait_ready(web)
            side = Portals(http, web, portal, f"{receiver_base}/n")
            ids = await asyncio.gather(*(side.cancel() for _ in range(20)))
            doomed = start_worker(database_url, web, nightly_log, lease)
            running.append(doomed)
            await until(lambda: len(receiver.received) >= 5, 30, "deliveries in flight")
            doomed.kill()  # SIGKILL: no chance to give anything back
            doomed.wait()
            async with uow_factory() as tx:
                held = set(
                    (
                        await tx.connection.execute(
                            select(notifications.c.id).where(
                                notifications.c.claimed_by.like(f"%:{doomed.pid}:%")
                            )
                        )
                    ).scalars()
                )
            assert held, "the killed worker held claims"
            successor = start_worker(database_url, web, nightly_log, lease)
            running.append(successor)

            deadline = time.monotonic() + 45
            while (await outbox_states(uow_factory))["pending"]:
                assert time.monotonic() < deadline, await outbox_states(uow_factory)
                await asyncio.sleep(0.2)
            assert await stop(successor) == 0

    states = await outbox_states(uow_factory)
    assert states == {"delivered": 20}
    received = Counter(receiver.ids())
    async with uow_factory() as tx:
        events = set(
            (
                await tx.connection.execute(
                    select(notifications.c.id).where(notifications.c.payment_id.in_(ids))
                )
            ).scalars()
        )
    assert set(received) == events  # nothing lost
    twice = {event_id for event_id, count in received.items() if count > 1}
    # A duplicate only where the dead worker's claim had to time out first (its posts in
    # flight when it died were received but never recorded, so they went out again).
    assert twice
    assert twice <= held
    assert all(r.verified_by == (secret,) for r in receiver.received)
