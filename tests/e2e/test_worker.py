"""The worker's jobs: inside the web process when asked (the demo), never by default, and as
``payments worker``, a process that delivers, runs the daily schedule and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from payments.domain.notifications import DeliveryState
from payments.domain.schedule import vietnam_day
from payments.notifications.usecases import rotate_webhook_secret
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, api_client, make_portal, payment_body
from tests.support.webhook_receiver import Receiver, serving

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class Clock:
    """The app's clock, moved by the test: nothing depends on how fast the machine is."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def portal_with_secret(
    uow: SqlUnitOfWorkFactory, now: datetime | None = None
) -> tuple[Portal, str]:
    now = now or datetime.now(UTC)
    portal = await make_portal(uow, now, hosts=("127.0.0.1:*",))  # receivers: free ports
    secret = await rotate_webhook_secret(
        uow, agency_code=portal.code, overlap=timedelta(hours=1), actor="test", now=now
    )
    return portal, secret


async def create(http: httpx.AsyncClient, portal: Portal, notify_url: str, **extra: str) -> str:
    body = payment_body(return_url="http://127.0.0.1/back", notify_url=notify_url, **extra)
    answer = await http.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": uuid.uuid4().hex}
    )
    assert answer.status_code == 201, answer.text
    payment_id: str = answer.json()["id"]
    return payment_id


async def wait_for(condition: object, seconds: int = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_demo_runs_the_worker_in_the_web_process(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    clock = Clock(NOW)
    portal, secret = await portal_with_secret(uow_factory, NOW)
    receiver = Receiver([secret])
    async with (
        serving(receiver) as base,
        api_client(
            database_url,
            clock=clock,  # the web process's worker runs on the same clock
            sandbox=True,
            run_worker_in_web=True,
            worker_poll_ms=50,
            expiry_interval_seconds=1,
        ) as http,
    ):
        expires_at = NOW + timedelta(minutes=10)
        expiring = await create(http, portal, f"{base}/n", expires_at=expires_at.isoformat())
        cancelled = await create(http, portal, f"{base}/n")
        assert (
            await http.post(f"/v1/payments/{cancelled}/cancel", headers=portal.auth())
        ).is_success
        clock.now = expires_at + timedelta(minutes=1)  # overdue: the worker's sweep expires it
        await wait_for(lambda: len(receiver.received) == 2, seconds=60)  # only bounds a failure
    by_payment = {r.envelope["data"]["id"]: r.envelope["type"] for r in receiver.received}
    assert by_payment == {expiring: "payment.expired", cancelled: "payment.cancelled"}
    assert all(r.verified_by == (secret,) and r.answered == 200 for r in receiver.received)


async def test_serve_runs_no_jobs_by_default(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    portal, secret = await portal_with_secret(uow_factory)
    receiver = Receiver([secret])
    async with (
        serving(receiver) as base,
        api_client(
            database_url, sandbox=True, worker_poll_ms=50, expiry_interval_seconds=1
        ) as http,
    ):
        payment_id = await create(http, portal, f"{base}/n")
        assert (
            await http.post(f"/v1/payments/{payment_id}/cancel", headers=portal.auth())
        ).is_success
        await asyncio.sleep(1.5)
    assert receiver.received == []
    async with uow_factory() as tx:
        (event,) = await tx.notifications.for_payment(payment_id)
    assert (event.state, event.attempt_count) == (DeliveryState.PENDING, 0)


def start_worker(database_url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from payments.entrypoints.cli import main; main()",
            "worker",
            "--jobs-from",
            "tests.support.worker_jobs:nightly",
        ],
        cwd=REPO,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_SANDBOX": "true",
            "PAYMENTS_LOG_LEVEL": "warning",
            "PAYMENTS_WORKER_POLL_MS": "100",
            "PAYMENTS_NIGHTLY_AT": "00:00",  # already passed today in Vietnam: due at once
            "TEST_NIGHTLY_LOG": str(log),
            **env,
        },
    )


async def test_payments_worker_runs_the_day_and_finishes_its_round_on_sigterm(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    portal, secret = await portal_with_secret(uow_factory)
    receiver = Receiver([secret], script=["slow"], slow_seconds=2)
    nightly_log = tmp_path / "nightly.log"
    # The worker process runs on the real clock: its "yesterday" is one of these two, however
    # long the test takes (it may cross midnight in Vietnam).
    days = {vietnam_day(datetime.now(UTC)) - timedelta(days=1)}
    async with serving(receiver) as base, api_client(database_url, sandbox=True) as http:
        worker = start_worker(database_url, nightly_log)
        try:
            await wait_for(nightly_log.exists, seconds=30)
            payment_id = await create(http, portal, f"{base}/n")
            cancel = await http.post(f"/v1/payments/{payment_id}/cancel", headers=portal.auth())
            assert cancel.is_success
            await wait_for(lambda: receiver.received)  # the post is in flight (2 s answer)
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(worker.wait, 20)
        finally:
            if worker.poll() is None:
                worker.kill()
    assert code == 0
    assert [r.envelope["data"]["id"] for r in receiver.received] == [payment_id]
    assert receiver.received[0].verified_by == (secret,)
    async with uow_factory() as tx:  # the round in flight was finished and recorded
        (event,) = await tx.notifications.for_payment(payment_id)
        attempts = await tx.notifications.deliveries(event.id)
    assert (event.state, event.attempt_count) == (DeliveryState.DELIVERED, 1)
    assert [a.latency_ms >= 1900 for a in attempts] == [True]
    day, pid = nightly_log.read_text().split()  # one run, by this worker
    assert pid == str(worker.pid)
    days.add(vietnam_day(datetime.now(UTC)) - timedelta(days=1))
    assert day in {d.isoformat() for d in days}
