"""The nightly fetch on a real database, with the treasury and the providers' endpoints played
by httpx.MockTransport: the treasury statement and each configured provider's settlement
report are fetched and imported before the day is reconciled once; a report that cannot be had
leaves the treasury reconciliation done, says why, and a rerun once it is there fills the
provider side."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from payments.domain.attempts import Provider
from payments.domain.payments import Payment
from payments.reconcile.formats.settlements import write_settlement
from payments.reconcile.ports import StatementUnavailable
from payments.reconcile.rules.sandbox_day import sandbox_settlement
from payments.reconcile.sources.treasury import fetch_and_reconcile
from payments.reconcile.usecases.day import captured_on
from payments.reconcile.usecases.nightly import NightResult, ReportOutcome, ReportStatus
from payments.reconcile.usecases.reports import list_items
from payments.settings import Settings
from payments.unit_of_work import WorkFactory
from tests.support.api import TEST_PROVIDERS
from tests.support.reconcile_days import (
    DAY,
    NIGHT,
    csv_line,
    gateway,
    statement,
)

TREASURY_URL = "https://kbnn.test/statement"
VNPAY_URL = "https://vnpay.test/reports/settlement"
MOMO_URL = "https://momo.test/reports/settlement"
Answer = Callable[[httpx.Request], httpx.Response]


@dataclass
class Endpoints:
    """What each endpoint answers (by host), and the requests it saw."""

    answers: dict[str, Answer]
    seen: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.answers[request.url.host](request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


def serve(content: bytes) -> Answer:
    return lambda _request: httpx.Response(200, content=content)


def status(code: int) -> Answer:
    return lambda _request: httpx.Response(code, text="internal error")


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def settings(**overrides: Any) -> Settings:
    options: dict[str, Any] = {
        **TEST_PROVIDERS,
        "treasury_statement_url": TREASURY_URL,
        "vnpay_settlement_url": VNPAY_URL,
        "vnpay_settlement_token": "vnpay-report-token",
        "momo_settlement_url": MOMO_URL,
        **overrides,
    }
    return Settings(**options)


@dataclass
class Day:
    vnpay: Payment
    momo: Payment
    statement: bytes
    reports: dict[str, bytes]  # what each provider says it captured: all of its payments


@pytest.fixture
async def day(uow_factory: WorkFactory) -> Day:
    gw = await gateway(uow_factory)
    vnpay = await gw.paid(150_000, provider=Provider.VNPAY)
    momo = await gw.paid(70_000, provider=Provider.MOMO)
    captured = await captured_on(uow_factory, DAY)
    reports = {}
    for provider in ("vnpay", "momo"):
        out = io.StringIO()
        write_settlement(provider, sandbox_settlement(provider, DAY, captured), out)
        reports[provider] = out.getvalue().encode()
    lines = statement(csv_line(vnpay.id, 150_000), csv_line(momo.id, 70_000))
    return Day(vnpay, momo, lines, reports)


def report_answers(day: Day, **answers: Answer) -> dict[str, Answer]:
    return {
        "kbnn.test": serve(day.statement),
        "vnpay.test": serve(day.reports["vnpay"]),
        "momo.test": serve(day.reports["momo"]),
        **answers,
    }


async def night(uow: WorkFactory, endpoints: Endpoints, **options: Any) -> NightResult:
    async with endpoints.client() as http:
        return await fetch_and_reconcile(uow, http, settings(**options), DAY, now=NIGHT)


async def outcomes(uow: WorkFactory, run_id: int) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for stored in await list_items(uow, run_id, limit=500):
        found.setdefault(stored.item.outcome.value, []).append(stored.item.payment_id)
    return {outcome: sorted(ids, key=str) for outcome, ids in found.items()}


def statuses(reports: tuple[ReportOutcome, ...]) -> dict[str, ReportStatus]:
    return {r.provider: r.status for r in reports}


async def test_the_night_fetches_every_report_and_checks_three_ways(
    uow_factory: WorkFactory, day: Day
) -> None:
    # MoMo's report omits its payment: the run must say so, which it can only from the report.
    momo_header_only = day.reports["momo"].split(b"\n", 1)[0] + b"\n"
    endpoints = Endpoints(report_answers(day, **{"momo.test": serve(momo_header_only)}))

    first = await night(uow_factory, endpoints)

    assert statuses(first.reports) == {"vnpay": "imported", "momo": "imported"}
    assert [r.lines for r in first.reports] == [1, 0]
    assert first.missing_reports == []
    assert await outcomes(uow_factory, first.day.run.id) == {
        "matched": sorted([day.vnpay.id, day.momo.id]),
        "provider_missing": [day.momo.id],
    }
    # VNPay's settlement is booked and its payment remitted; MoMo's waits for MoMo's word.
    assert (first.day.run.settled_payments, first.day.run.posted_payments) == (1, 1)
    assert first.day.run.awaiting_settlement == 1
    by_host = {r.url.host: r for r in endpoints.seen}
    assert by_host["vnpay.test"].headers["authorization"] == "Bearer vnpay-report-token"
    assert "authorization" not in by_host["momo.test"].headers  # no token set, none sent
    assert by_host["momo.test"].url.params["date"] == DAY.isoformat()

    again = await night(uow_factory, endpoints)
    assert statuses(again.reports) == {"vnpay": "already imported", "momo": "already imported"}
    assert again.day.run.totals == first.day.run.totals
    assert again.day.run.statements == first.day.run.statements
    assert again.day.run.posted_payments == 0


async def test_a_report_that_cannot_be_had_leaves_the_treasury_run_done(
    uow_factory: WorkFactory, day: Day
) -> None:
    endpoints = Endpoints(
        report_answers(day, **{"vnpay.test": status(500), "momo.test": unreachable})
    )

    result = await night(uow_factory, endpoints)

    assert statuses(result.reports) == {"vnpay": "failed", "momo": "failed"}
    assert result.missing_reports == ["vnpay", "momo"]
    vnpay, momo = result.reports
    assert vnpay.reason == "the vnpay settlement endpoint answered 500"
    assert momo.reason.startswith("the momo settlement endpoint failed: ConnectError")
    assert "momo.test" not in momo.reason  # the URL (which may carry a credential) is not told
    # The treasury side is reconciled; with no report there is no provider-side item at all
    # (rather than every payment reading provider_missing), and nothing settled is remitted.
    assert (result.day.run.posted_payments, result.day.run.awaiting_settlement) == (0, 2)
    assert await outcomes(uow_factory, result.day.run.id) == {
        "matched": sorted([day.vnpay.id, day.momo.id])
    }

    # Later the reports are there: a rerun imports them and checks the provider side.
    later = await night(uow_factory, Endpoints(report_answers(day)))
    assert statuses(later.reports) == {"vnpay": "imported", "momo": "imported"}
    assert later.missing_reports == []
    assert (later.day.run.settled_payments, later.day.run.posted_payments) == (2, 2)
    assert len(later.day.run.statements) == 3  # the treasury's, VNPay's and MoMo's
    assert await outcomes(uow_factory, later.day.run.id) == {
        "matched": sorted([day.vnpay.id, day.momo.id])
    }


async def test_unset_reports_are_skipped_and_a_refused_one_is_reported(
    uow_factory: WorkFactory, day: Day
) -> None:
    # The MoMo layout served where VNPay's report is expected: the parser refuses it.
    endpoints = Endpoints(report_answers(day, **{"vnpay.test": serve(day.reports["momo"])}))

    result = await night(uow_factory, endpoints, momo_settlement_url=None)

    vnpay, momo = result.reports
    assert (vnpay.status, momo.status) == (ReportStatus.FAILED, ReportStatus.SKIPPED)
    assert vnpay.reason.startswith("the vnpay settlement report was refused: line 1:")
    assert momo.reason == "PAYMENTS_MOMO_SETTLEMENT_URL is not set"
    assert result.missing_reports == ["vnpay"]  # skipped is not missing: none is expected
    assert {r.url.host for r in endpoints.seen} == {"kbnn.test", "vnpay.test"}
    assert (result.day.run.posted_payments, result.day.run.awaiting_settlement) == (0, 2)


async def test_without_settlement_urls_only_the_statement_is_fetched(
    uow_factory: WorkFactory, day: Day
) -> None:
    endpoints = Endpoints(report_answers(day))
    result = await night(
        uow_factory, endpoints, vnpay_settlement_url=None, momo_settlement_url=None
    )
    assert {r.status for r in result.reports} == {ReportStatus.SKIPPED}
    assert result.missing_reports == []
    assert [r.url.host for r in endpoints.seen] == ["kbnn.test"]
    assert (result.day.run.posted_payments, result.day.run.awaiting_settlement) == (0, 2)


async def test_no_treasury_statement_no_run_and_no_report_fetched(
    uow_factory: WorkFactory, day: Day
) -> None:
    # The daily job raises, so the schedule retries it.
    endpoints = Endpoints(report_answers(day, **{"kbnn.test": status(503)}))
    with pytest.raises(StatementUnavailable, match="answered 503 for 2025-03-12"):
        await night(uow_factory, endpoints)
    assert [r.url.host for r in endpoints.seen] == ["kbnn.test"]


async def test_files_beyond_the_statement_limit_are_not_fetched_whole(
    uow_factory: WorkFactory, day: Day
) -> None:
    # A report larger than PAYMENTS_STATEMENT_MAX_BYTES fails as an unreachable one does.
    cap = max(len(day.statement), len(day.reports["momo"]))
    padded = day.reports["vnpay"] + b"\n" * (cap + 1 - len(day.reports["vnpay"]))
    endpoints = Endpoints(report_answers(day, **{"vnpay.test": serve(padded)}))
    result = await night(uow_factory, endpoints, statement_max_bytes=cap)
    vnpay, momo = result.reports
    assert vnpay.status is ReportStatus.FAILED
    assert vnpay.reason == f"the vnpay settlement endpoint sent more than {cap} bytes"
    assert momo.status is ReportStatus.IMPORTED
    assert result.missing_reports == ["vnpay"]

    # The treasury statement too: no statement, no run.
    with pytest.raises(StatementUnavailable, match="sent more than 10 bytes"):
        await night(uow_factory, Endpoints(report_answers(day)), statement_max_bytes=10)
