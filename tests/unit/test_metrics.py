"""The metrics on fakes: who may read /metrics, route templates as labels, outbound calls by
target and outcome, the database gauges as families, and multiprocess collection."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router

from payments.adapters.metrics import (
    METRICS,
    MULTIPROC_ENV,
    DatabaseGauges,
    OutboundTargets,
    count_callback,
    database_families,
    exposition,
    observe_request,
    timed_reconciliation,
)
from payments.bootstrap import MeteredClient, outbound_targets
from payments.entrypoints.metrics import RequestMetricsMiddleware, metrics_refusal
from payments.entrypoints.worker.runtime import PeriodicJob, Worker
from payments.services.schedule import DailyPolicy
from payments.settings import Settings
from tests.support.api import TEST_PROVIDERS
from tests.support.prometheus import samples, series
from tests.unit.fakes import FakeUnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789abcdef"


def value(name: str, **labels: str) -> float:
    return METRICS.get_sample_value(name, labels) or 0.0


def live(**options: object) -> Settings:
    return Settings(**{**TEST_PROVIDERS, **options})  # type: ignore[arg-type]


# --- who may read it -------------------------------------------------------------------------


def test_unconfigured_metrics_are_open_in_sandbox_mode_and_off_elsewhere() -> None:
    assert metrics_refusal(Settings(sandbox=True), None, "203.0.113.9") is None
    off = metrics_refusal(live(), f"Bearer {TOKEN}", "127.0.0.1")
    assert off is not None
    assert (off.status, off.slug) == (404, "not-found")


def test_a_token_is_asked_for_and_compared_whole() -> None:
    settings = live(metrics_token=TOKEN)
    for header in (None, "", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x"):
        refused = metrics_refusal(settings, header, "127.0.0.1")
        assert refused is not None, header
        assert refused.status == 401
        assert refused.headers == {"WWW-Authenticate": 'Bearer realm="metrics"'}
    assert metrics_refusal(settings, f"Bearer {TOKEN}", "127.0.0.1") is None
    assert metrics_refusal(settings, f"bearer {TOKEN}", None) is None
    # In sandbox mode too, once a token is set.
    assert metrics_refusal(Settings(sandbox=True, metrics_token="t"), None, None) is not None


def test_a_network_list_admits_only_its_addresses() -> None:
    settings = live(metrics_networks="10.0.0.0/8, 2001:db8::/32,192.0.2.7")
    for inside in ("10.1.2.3", "2001:db8::5", "192.0.2.7", "::ffff:10.9.9.9"):
        assert metrics_refusal(settings, None, inside) is None, inside
    for outside in ("11.0.0.1", "192.0.2.8", "2001:db9::1", None, "testclient", ""):
        refused = metrics_refusal(settings, None, outside)
        assert refused is not None, outside
        assert (refused.status, refused.slug) == (403, "not-permitted")


def test_with_both_set_both_must_pass() -> None:
    settings = live(metrics_networks="10.0.0.0/8", metrics_token=TOKEN)
    assert metrics_refusal(settings, f"Bearer {TOKEN}", "10.0.0.1") is None
    outside = metrics_refusal(settings, f"Bearer {TOKEN}", "11.0.0.1")
    assert outside is not None
    assert outside.status == 403
    no_token = metrics_refusal(settings, None, "10.0.0.1")
    assert no_token is not None
    assert no_token.status == 401


def test_metrics_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.0/33' is not an IP network"):
        Settings(metrics_networks="10.0.0.0/8,10.0.0.0/33")
    with pytest.raises(ValidationError, match="no network given"):
        Settings(metrics_networks=" , ")
    assert live(metrics_token="short").metrics_problems() == [
        "PAYMENTS_METRICS_TOKEN is shorter than 16 characters"
    ]
    assert live(metrics_token="changeme").metrics_problems() == [
        "PAYMENTS_METRICS_TOKEN is a placeholder or a sandbox secret"
    ]
    assert live(metrics_token=TOKEN).metrics_problems() == []
    assert Settings(sandbox=True, metrics_token="x").metrics_problems() == []
    assert "metrics-token" not in repr(live(metrics_token=TOKEN))


# --- request labels --------------------------------------------------------------------------


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _broken(request: Request) -> Response:
    raise RuntimeError("boom")


def requests(method: str, route: str, status: int) -> float:
    return value("payments_http_requests_total", method=method, route=route, status=str(status))


async def test_requests_are_labelled_by_route_template_never_by_path() -> None:
    inner = Router(routes=[Route("/runs/{run_id:int}", _ok)])
    app = Starlette(
        routes=[
            Route("/items/{item_id}", _ok, methods=["GET"]),
            Route("/broken", _broken),
            Mount("/console", app=inner),
        ],
        middleware=[Middleware(RequestMetricsMiddleware)],
    )
    expected = {
        ("GET", "/items/{item_id}", 200): 3,
        ("GET", "/console/runs/{run_id:int}", 200): 1,
        ("POST", "/items/{item_id}", 405): 1,  # the route that refused the method
        ("GET", "unmatched", 404): 1,
        ("other", "unmatched", 404): 1,  # a made-up method
        ("GET", "/broken", 500): 1,  # an exception in the endpoint
    }
    before = {key: requests(*key) for key in expected}
    timed = value("payments_http_request_duration_seconds_count", method="GET",
                  route="/items/{item_id}")  # fmt: skip
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for item in ("a1", "b2", "c3"):
            assert (await http.get(f"/items/{item}")).status_code == 200
        assert (await http.get("/console/runs/7")).status_code == 200
        assert (await http.post("/items/a1")).status_code == 405
        assert (await http.get("/no/such/path/123")).status_code == 404
        assert (await http.request("BREW", "/coffee")).status_code == 404
        assert (await http.get("/broken")).status_code == 500
    assert {key: requests(*key) - before[key] for key in expected} == expected
    assert (
        value(
            "payments_http_request_duration_seconds_count", method="GET", route="/items/{item_id}"
        )
        == timed + 3
    )
    text = exposition(None).decode()
    assert "/items/a1" not in text
    assert 'route="/items/{item_id}"' in text


def test_labels_outside_their_sets_fall_into_one_bucket() -> None:
    before = value("payments_callbacks_total", provider="other", verdict="error")
    count_callback("paypal", "exploded")
    assert value("payments_callbacks_total", provider="other", verdict="error") == before + 1
    before = value("payments_http_requests_total", method="other", route="/x", status="200")
    observe_request("PROPFIND", "/x", 200, 0.01)
    assert value("payments_http_requests_total", method="other", route="/x", status="200") == (
        before + 1
    )


# --- outbound calls --------------------------------------------------------------------------


def test_outbound_targets_by_the_configured_urls() -> None:
    targets = outbound_targets(
        live(
            treasury_statement_url="https://kbnn.test/statement",
            ledger_anchor_url="https://anchor.test/heads",
            momo_settlement_url="https://momo.test/reports/settlement",
        )
    )
    assert targets.target("https://vnpay.test/merchant_webapi/api/transaction") == "vnpay"
    assert targets.target("https://momo.test/v2/gateway/api/create") == "momo"
    assert targets.target("https://momo.test/reports/settlement?date=2025-03-12") == "momo"
    assert targets.target("https://kbnn.test/statement?date=2025-03-12&format=csv") == "treasury"
    assert targets.target("https://anchor.test/heads") == "ledger_anchor"
    assert targets.target("https://portal.example.vn/notify") == "other"
    # A prefix matches whole path segments only.
    assert targets.target("https://momo.testing/v2") == "other"
    assert targets.target("https://kbnn.test/statements") == "other"
    # Longest prefix first; empty URLs (a report switched off) are no prefix at all.
    nested = OutboundTargets.of([("momo", "https://x.test"), ("treasury", "https://x.test/t"),
                                 ("vnpay", "")])  # fmt: skip
    assert nested.target("https://x.test/t/day") == "treasury"
    assert nested.target("https://x.test/other") == "momo"
    assert nested.target("https://y.test/") == "other"


async def test_the_outbound_client_counts_every_call_by_how_it_ended() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("no answer", request=request)
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(503 if request.url.path == "/busy" else 200)

    targets = OutboundTargets.of([("vnpay", "https://vnpay.test")])
    outcomes = ("2xx", "5xx", "timeout", "network_error")
    before = {o: value("payments_outbound_requests_total", target="vnpay", outcome=o)
              for o in outcomes}  # fmt: skip
    timed = value("payments_outbound_request_duration_seconds_count", target="vnpay")
    async with MeteredClient(targets, transport=httpx.MockTransport(answer)) as http:
        assert (await http.get("https://vnpay.test/ok")).status_code == 200
        assert (await http.post("https://vnpay.test/busy")).status_code == 503
        with pytest.raises(httpx.ReadTimeout):
            await http.get("https://vnpay.test/slow")
        with pytest.raises(httpx.ConnectError):
            await http.get("https://vnpay.test/down")
    for outcome in outcomes:
        assert value("payments_outbound_requests_total", target="vnpay", outcome=outcome) == (
            before[outcome] + 1
        ), outcome
    assert value("payments_outbound_request_duration_seconds_count", target="vnpay") == timed + 4


# --- the worker's own counts -----------------------------------------------------------------


def test_a_reconciliation_run_is_timed_as_ok_or_failed() -> None:
    ok = value("payments_reconciliation_run_duration_seconds_count", result="ok")
    failed = value("payments_reconciliation_run_duration_seconds_count", result="failed")
    with timed_reconciliation():
        pass
    with pytest.raises(ValueError, match="no statement"), timed_reconciliation():
        raise ValueError("no statement")
    assert value("payments_reconciliation_run_duration_seconds_count", result="ok") == ok + 1
    assert value("payments_reconciliation_run_duration_seconds_count", result="failed") == (
        failed + 1
    )


async def test_a_failed_worker_round_is_counted_by_job() -> None:
    rounds = 0

    async def flaky() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 2:
            worker.stop()
        raise RuntimeError("database went away")

    before = value("payments_worker_job_failures_total", worker_job="flaky-test-job")
    worker = Worker(
        [PeriodicJob("flaky-test-job", timedelta(0), flaky)],
        [],
        uow_factory=FakeUnitOfWorkFactory(),
        daily_policy=DailyPolicy(worker="w", at=time(1, 0), lease=timedelta(1)),
        clock=lambda: datetime(2025, 1, 1, tzinfo=UTC),
    )
    await asyncio.wait_for(worker.run(), 10)
    assert value("payments_worker_job_failures_total", worker_job="flaky-test-job") == before + 2


# --- the database gauges ---------------------------------------------------------------------


def test_database_gauges_cover_every_status_and_provider_with_zero() -> None:
    families = {f.name: f for f in database_families(DatabaseGauges())}
    recent = families["payments_recent_payments"].samples
    assert len(recent) == 6 * 4  # statuses x (providers and none)
    assert {s.value for s in recent} == {0}
    queued = families["payments_requery_due"].samples
    assert {s.labels["provider"]: s.value for s in queued} == {"vnpay": 0, "momo": 0, "vietqr": 0}
    # Refund statuses and exception outcomes come zero-filled from the query.
    assert families["payments_refunds_open"].samples == []
    assert "payments_reconciliation_last_run_timestamp_seconds" not in families
    assert families["payments_database_up"].samples[0].value == 1


def test_database_gauges_carry_their_values() -> None:
    at = datetime(2025, 3, 12, 18, 0, tzinfo=UTC)
    gauges = DatabaseGauges(
        recent_payments={("succeeded", "vnpay"): 7, ("created", "none"): 2},
        outbox_pending=5,
        outbox_due=3,
        outbox_oldest_pending_age_seconds=42,
        requery_scheduled={"momo": 4},
        requery_due={"momo": 1},
        attempts_left_for_review={"vnpay": 2},
        refunds_open={("vnpay", "awaiting_approval"): 1},
        ledger_unsealed_entries=9,
        reconciliation_open_exceptions={"missing_at_treasury": 3},
        reconciliation_last_run_at=at,
    )
    found = samples(exposition(gauges).decode())
    expected = {
        series("payments_recent_payments", status="succeeded", provider="vnpay"): 7,
        series("payments_recent_payments", status="created", provider="none"): 2,
        series("payments_recent_payments", status="failed", provider="momo"): 0,
        series("payments_outbox_pending"): 5,
        series("payments_outbox_due"): 3,
        series("payments_outbox_oldest_pending_age_seconds"): 42,
        series("payments_requery_scheduled", provider="momo"): 4,
        series("payments_requery_due", provider="momo"): 1,
        series("payments_requery_due", provider="vnpay"): 0,
        series("payments_attempts_left_for_review", provider="vnpay"): 2,
        series("payments_refunds_open", provider="vnpay", status="awaiting_approval"): 1,
        series("payments_ledger_unsealed_entries"): 9,
        series("payments_reconciliation_open_exceptions", outcome="missing_at_treasury"): 3,
        series("payments_reconciliation_last_run_timestamp_seconds"): at.timestamp(),
        series("payments_database_up"): 1,
    }
    assert {key: found.get(key) for key in expected} == expected


def test_without_the_database_the_scrape_says_so_and_keeps_the_process_metrics() -> None:
    observe_request("GET", "/healthz", 200, 0.001)
    found = samples(exposition(None).decode())
    assert found[series("payments_database_up")] == 0
    assert not any(name == "payments_outbox_pending" for name, _ in found)
    assert any(name == "payments_http_requests_total" for name, _ in found)


# --- several processes -----------------------------------------------------------------------

IN_ANOTHER_PROCESS = """
from payments.adapters.metrics import count_callback, observe_request
count_callback("vnpay", "applied")
count_callback("vnpay", "applied")
observe_request("POST", "/callbacks/momo/ipn", 204, 0.02)
"""


def _other_process(directory: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IN_ANOTHER_PROCESS],
        cwd=ROOT,
        env={**os.environ, MULTIPROC_ENV: str(directory)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_with_a_multiprocess_directory_one_scrape_sums_every_process(tmp_path: Path) -> None:
    _other_process(tmp_path)
    _other_process(tmp_path)
    found = samples(exposition(DatabaseGauges(), multiprocess=str(tmp_path)).decode())
    assert found[series("payments_callbacks_total", provider="vnpay", verdict="applied")] == 4
    route = {"method": "POST", "route": "/callbacks/momo/ipn"}
    assert found[series("payments_http_requests_total", **route, status="204")] == 2
    assert found[series("payments_http_request_duration_seconds_count", **route)] == 2
    assert found[series("payments_database_up")] == 1
