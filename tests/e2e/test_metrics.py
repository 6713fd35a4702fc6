"""/metrics over HTTP, on both databases: the web app's after payments created and paid in
the sandbox, who may read it, and the worker's own /metrics in a ``payments worker`` process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from payments.entrypoints.cli import cli
from tests.support.api import Portal, api_client
from tests.support.checkout_flows import choose_momo, choose_vnpay, create, pay_vnpay, status
from tests.support.prometheus import Series, samples, series
from tests.support.webhook_receiver import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789abcdef"


async def scrape(http: httpx.AsyncClient, **headers: str) -> dict[Series, float]:
    answer = await http.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(answer.text)


async def test_the_series_are_there_after_payments_are_created_and_paid(
    database_url: str, portal: Portal
) -> None:
    async with api_client(database_url, sandbox=True) as http:
        before = await scrape(http)
        paid = await create(http, portal)
        await pay_vnpay(http, await choose_vnpay(http, paid), "success")
        assert await status(http, portal, paid["id"]) == "succeeded"
        at_momo = await create(http, portal)
        await choose_momo(http, at_momo)  # MoMo's create: an outbound call to the simulator
        waiting = await create(http, portal)
        answer = await http.get("/metrics")
    found = samples(answer.text)

    def grew(key: Series) -> float:
        return found.get(key, 0) - before.get(key, 0)

    # Routes by template: three payments created, ids and tokens never in a label.
    assert grew(series("payments_http_requests_total", method="POST", route="/v1/payments",
                       status="201")) == 3  # fmt: skip
    read = {"method": "GET", "route": "/v1/payments/{payment_id}"}
    assert grew(series("payments_http_requests_total", **read, status="200")) >= 1
    assert grew(series("payments_http_request_duration_seconds_count", **read)) >= 1
    for payment in (paid, at_momo, waiting):
        assert payment["id"] not in answer.text
        assert payment["checkout_url"].rsplit("/", 1)[1] not in answer.text
    assert grew(series("payments_callbacks_total", provider="vnpay", verdict="applied")) == 1
    assert grew(series("payments_outbound_requests_total", target="momo", outcome="2xx")) == 1
    assert grew(series("payments_outbound_request_duration_seconds_count", target="momo")) == 1
    # The database's own view, of this test's database alone.
    recent = "payments_recent_payments"
    assert found[series(recent, status="succeeded", provider="vnpay")] == 1
    assert found[series(recent, status="pending", provider="momo")] == 1
    assert found[series(recent, status="created", provider="none")] == 1
    assert found[series(recent, status="succeeded", provider="momo")] == 0
    assert found[series("payments_requery_scheduled", provider="momo")] == 1
    assert found[series("payments_requery_scheduled", provider="vnpay")] == 0
    assert found[series("payments_ledger_unsealed_entries")] >= 1  # no worker seals here
    assert found[series("payments_database_up")] == 1
    for name in ("payments_outbox_pending", "payments_outbox_oldest_pending_age_seconds"):
        assert series(name) in found
    assert series("payments_refunds_open", provider="vnpay", status="approved") in found
    assert series("payments_reconciliation_open_exceptions", outcome="missing_at_treasury") in (
        found
    )


async def test_production_metrics_are_off_until_configured(database_url: str) -> None:
    async with api_client(database_url) as http:
        answer = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/not-found")


async def test_the_token_is_required_once_set(database_url: str) -> None:
    async with api_client(database_url, metrics_token=TOKEN) as http:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            problem = refused.json()
            assert (problem["status"], problem["instance"]) == (401, "/metrics")
            assert TOKEN not in refused.text
        found = await scrape(http, Authorization=f"Bearer {TOKEN}")
    assert found[series("payments_database_up")] == 1


async def test_a_network_list_refuses_other_addresses(database_url: str) -> None:
    # The test client calls from 127.0.0.1.
    async with api_client(database_url, metrics_networks="10.0.0.0/8") as http:
        refused = await http.get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/not-permitted")
    async with api_client(database_url, metrics_networks="127.0.0.0/8,::1") as http:
        await scrape(http)


# --- the worker ------------------------------------------------------------------------------


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = "from payments.entrypoints.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "worker"], cwd=ROOT, env=env)


async def _metrics_of(port: int, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as http:
        while True:
            assert process.poll() is None, "the worker exited"
            try:
                return await http.get(f"http://127.0.0.1:{port}/metrics")
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the worker's /metrics did not come up"
                await asyncio.sleep(0.1)


async def test_the_worker_serves_its_own_metrics_behind_the_token(database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_SANDBOX": "true",
        "PAYMENTS_LOG_LEVEL": "warning",
        "PAYMENTS_DB_POOL_SIZE": "2",
        "PAYMENTS_METRICS_TOKEN": TOKEN,
        "PAYMENTS_WORKER_METRICS_PORT": str(port),
    }
    process = start_worker(env)
    try:
        refused = await _metrics_of(port, process)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        async with httpx.AsyncClient() as http:
            answer = await http.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        found = samples(answer.text)
        assert found[series("payments_database_up")] == 1
        assert found[series("payments_outbox_pending")] == 0
        assert any(name == "process_resident_memory_bytes" for name, _ in found)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_worker_whose_metrics_port_is_taken_does_not_start(database_url: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["worker"],
            env={
                "PAYMENTS_DATABASE_URL": database_url,
                "PAYMENTS_SANDBOX": "true",
                "PAYMENTS_WORKER_METRICS_PORT": str(port),
            },
        )
    assert result.exit_code == 1
    assert f"/metrics cannot listen on 127.0.0.1:{port}" in result.output
