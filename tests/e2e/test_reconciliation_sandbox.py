"""The sandbox treasury end to end: the nightly job fetches the day's statement from it over
HTTP (in-process in sandbox mode), imports it and reconciles the day; running the job twice
changes nothing; the switches put exactly their discrepancy in the report."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payments.entrypoints.app import create_app
from payments.entrypoints.worker.jobs import daily_jobs
from payments.http.container import Container
from payments.ledger import chart
from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.rules.matching import Outcome
from payments.reconcile.sources.treasury import statement_reader
from payments.reconcile.usecases.day import reconcile_day
from payments.reconcile.usecases.imports import import_settlement, import_statement
from payments.reconcile.usecases.reports import list_items, list_runs
from payments.settings import Settings
from tests.support.api import BASE_URL
from tests.support.reconcile_days import DAY, NIGHT, gateway

STATEMENT_URL = f"{BASE_URL}/sandbox/treasury/statement"


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
        treasury_statement_url=STATEMENT_URL,
        treasury_statement_token="sandbox-treasury-token",
        # These payments never went through the simulators' pages, so the simulators'
        # settlement reports would list none of them (test_nightly_settlements.py has those).
        vnpay_settlement_url="",
        momo_settlement_url="",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client, app.state.container


async def outcomes(container: Container, run_id: int) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for stored in await list_items(container.uow_factory, run_id, limit=500):
        found.setdefault(stored.item.outcome.value, []).append(stored.item.payment_id)
    return found


async def test_the_nightly_job_reconciles_against_the_sandbox_treasury_twice_safely(
    sandbox: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = sandbox
    gw = await gateway(container.uow_factory)
    paid = [await gw.paid(100_000 * (n + 1)) for n in range(3)]
    [job] = daily_jobs(container)
    assert job.name == "reconcile"

    await job.run(DAY, NIGHT)
    await job.run(DAY, NIGHT)  # a second attempt of the same night

    runs = await list_runs(container.uow_factory)
    assert len(runs) == 2
    first, second = runs[1], runs[0]
    # No settlement report (the simulators never saw these payments): nothing reached the
    # collection account, so nothing leaves it; the treasury's confirmations wait.
    assert (first.posted_payments, second.posted_payments) == (0, 0)
    assert (first.awaiting_settlement, second.awaiting_settlement) == (3, 3)
    assert first.totals == second.totals
    assert first.statements == second.statements  # the same statement, imported once
    assert await outcomes(container, second.id) == {"matched": sorted(p.id for p in paid)}
    async with container.uow_factory() as tx:
        totals = {row.account.code: row.net for row in await tx.ledger.totals(as_of=None)}
    assert totals.get(chart.collection_bank().code, 0) == 0  # never negative
    assert totals[chart.provider_clearing("vnpay").code] == 600_000

    # Without the token the sandbox treasury refuses, as the real one would.
    refused = await client.get(f"{STATEMENT_URL}?date={DAY.isoformat()}")
    assert refused.status_code == 401


async def test_switches_inject_their_discrepancies(
    sandbox: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = sandbox
    gw = await gateway(container.uow_factory)
    paid = sorted([(await gw.paid(100_000 * (n + 1))).id for n in range(8)])
    auth = {"Authorization": "Bearer sandbox-treasury-token"}
    query = f"date={DAY.isoformat()}&inject=missing,amount_mismatch,duplicate,unknown"
    response = await client.get(f"{STATEMENT_URL}?{query}&format=csv", headers=auth)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 8 - 1 + 1 + 1  # one missing, one duplicated, one unknown
    camt = await client.get(f"{STATEMENT_URL}?{query}&format=camt", headers=auth)
    assert camt.text.count("<Ntry>") == 9

    bad = await client.get(f"{STATEMENT_URL}?date={DAY.isoformat()}&inject=nope", headers=auth)
    assert bad.status_code == 400
    settlement = await client.get(
        f"{BASE_URL}/sandbox/treasury/settlements/vnpay?date={DAY.isoformat()}"
    )
    assert settlement.status_code == 200
    assert len(settlement.text.strip().splitlines()) == 1 + 8

    await import_statement(
        container.uow_factory,
        statement_reader(io.BytesIO(camt.content), "camt"),
        business_date=DAY,
        actor="t",
        now=NIGHT,
    )
    result = await reconcile_day(container.uow_factory, DAY, now=NIGHT)
    found = await outcomes(container, result.run.id)
    assert found[Outcome.MISSING_AT_TREASURY.value] == [paid[0]]
    assert found[Outcome.AMOUNT_MISMATCH.value] == [paid[1]]
    assert found[Outcome.DUPLICATE.value] == [paid[2]]
    assert found[Outcome.UNKNOWN_AT_GATEWAY.value] == [None]
    assert len(found[Outcome.MATCHED.value]) == 6


async def test_a_csv_batch_line_matches_through_the_providers_settlement_report(
    sandbox: tuple[httpx.AsyncClient, Container],
) -> None:
    # The CSV statement can only say "batch SBXBATCH20250312: 3 payments, this total"; the
    # sandbox VNPay settlement report names that batch for the 5th to 7th payments.
    client, container = sandbox
    gw = await gateway(container.uow_factory)
    paid = sorted([(await gw.paid(100_000 * (n + 1))).id for n in range(8)])
    auth = {"Authorization": "Bearer sandbox-treasury-token"}
    query = f"date={DAY.isoformat()}&inject=batch&format=csv"
    response = await client.get(f"{STATEMENT_URL}?{query}", headers=auth)
    assert response.status_code == 200
    [batch_row] = [r for r in csv.DictReader(io.StringIO(response.text)) if r["batch_reference"]]
    assert (batch_row["batch_reference"], batch_row["batch_count"]) == ("SBXBATCH20250312", "3")
    settlement = await client.get(
        f"{BASE_URL}/sandbox/treasury/settlements/vnpay?date={DAY.isoformat()}"
    )
    report = read_settlement("vnpay", io.BytesIO(settlement.content))
    assert sum(line.batch_reference == "SBXBATCH20250312" for line in report.lines) == 3

    await import_statement(
        container.uow_factory,
        statement_reader(io.BytesIO(response.content), "csv"),
        business_date=DAY,
        actor="t",
        now=NIGHT,
    )
    await import_settlement(container.uow_factory, report, business_date=DAY, actor="t", now=NIGHT)
    result = await reconcile_day(container.uow_factory, DAY, now=NIGHT)

    found = await outcomes(container, result.run.id)
    assert list(found) == [Outcome.MATCHED.value]  # nothing else: no unknown line, no missing
    assert sorted(found[Outcome.MATCHED.value]) == paid
    stored = await list_items(container.uow_factory, result.run.id, limit=500)
    in_batch = {i.item.payment_id for i in stored if i.item.batch_reference == "SBXBATCH20250312"}
    assert in_batch == set(paid[4:7])
    assert result.run.matched_treasury_total == sum(100_000 * (n + 1) for n in range(8))
