"""Reconciling a day at the staff console over HTTP: from an uploaded statement's page
("Reconcile this day") or with a date on the runs page, the day runs as the signed-in person
and the new run's page follows; a day without a treasury statement says so on the page, in
Vietnamese or English; a form without the session's token, or from another site, runs
nothing."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from payments.entrypoints.console.texts import TEXTS
from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.ports import RunRecord
from payments.reconcile.usecases.imports import import_settlement
from payments.reconcile.usecases.reports import list_runs
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import api_client
from tests.support.console_pages import page, signed_in, token_of
from tests.support.console_uploads import Day, make_day, upload
from tests.support.reconcile_days import (
    DAY,
    NIGHT,
    csv_line,
    import_csv,
    next_day,
    statement,
)

VI, EN = TEXTS["vi"], TEXTS["en"]
RUN_AT = re.compile(r"^/console/runs/(\d+)\?reconciled=1$")
STATEMENT_AT = re.compile(r"^/console/statements/(\d+)\?uploaded=1$")
MOMO_REPORT = b"orderId,transId,amount,fee,settlementDate\nx,1,150000,0,2025-03-12\n"


@pytest.fixture
async def day(uow_factory: SqlUnitOfWorkFactory) -> Day:
    return await make_day(uow_factory)


@pytest.fixture
async def console(database_url: str, day: Day) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url) as http:
        signed = await signed_in(http, day.key)
        assert signed.status_code == 303, signed.text
        yield http


async def runs(uow: SqlUnitOfWorkFactory) -> list[RunRecord]:
    return list(await list_runs(uow))


def run_id_of(answer: httpx.Response) -> int:
    assert answer.status_code == 303, answer.text
    found = RUN_AT.match(answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return int(found.group(1))


async def test_reconcile_the_day_of_an_uploaded_statement(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    sent = await upload(console, statement(csv_line(day.paid[0]), csv_line("NOIDUNG-LA", 40_000)))
    found = STATEMENT_AT.match(sent.headers["location"])
    assert found is not None, sent.headers["location"]
    statement_path = f"/console/statements/{found.group(1)}"
    summary = await page(console, sent.headers["location"])
    assert VI["reconcile_this_day"] in summary.text
    assert f'action="{statement_path}"' in summary.text
    assert await runs(uow_factory) == []

    pressed = await console.post(
        statement_path,
        data={"csrf_token": token_of(summary)},
        headers={"Origin": "https://pay.test"},
    )
    run_id = run_id_of(pressed)
    shown = await page(console, pressed.headers["location"])
    assert VI["just_reconciled"] in shown.text
    assert day.actor in shown.text
    [run] = await runs(uow_factory)
    assert (run.id, run.business_date, run.actor) == (run_id, DAY, day.actor)
    assert run.totals["matched"].count == 1
    assert run.totals["missing_at_treasury"].count == 1  # the second payment
    assert run.totals["unknown_at_gateway"].count == 1
    # No provider report was uploaded: the matched payment's remittance waits for it.
    assert (run.posted_payments, run.awaiting_settlement) == (0, 1)

    # Pressed again: a rerun, with the same totals, posting nothing twice.
    again = await console.post(statement_path, data={"csrf_token": token_of(shown)})
    rerun_id = run_id_of(again)
    newest, first = await runs(uow_factory)
    assert (newest.id, first.id) == (rerun_id, run_id)
    assert newest.totals == first.totals
    assert (newest.posted_payments, newest.settled_payments) == (0, 0)


async def test_reconcile_a_day_from_the_runs_page(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await import_csv(uow_factory, statement(csv_line(day.paid[0]), csv_line(day.paid[1], 90_000)))
    listed = await page(console, "/console/runs")
    assert 'id="reconcile-form"' in listed.text
    assert VI["reconcile_a_day"] in listed.text

    pressed = await console.post(
        "/console/runs",
        data={"csrf_token": token_of(listed), "business_date": DAY.isoformat()},
        headers={"Origin": "https://pay.test", "Referer": "https://pay.test/console/runs"},
    )
    run_id = run_id_of(pressed)
    [run] = await runs(uow_factory)
    assert (run.id, run.business_date, run.actor) == (run_id, DAY, day.actor)
    assert run.totals["matched"].count == 2
    listed = await page(console, "/console/runs")
    assert f'href="/console/runs/{run_id}"' in listed.text


async def test_a_day_without_a_treasury_statement_says_so(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await import_csv(uow_factory, statement(csv_line(day.paid[0])))  # DAY has one; the next not
    listed = await page(console, "/console/runs")
    missing = next_day(DAY)
    refused = await console.post(
        "/console/runs",
        data={"csrf_token": token_of(listed), "business_date": missing.isoformat()},
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("text/html")
    assert VI["reconcile_no_statement"].format(day=f"{missing:%d/%m/%Y}") in refused.text
    assert f'value="{missing.isoformat()}"' in refused.text  # the typed day is kept

    switched = await console.post(
        "/console/language",
        data={"csrf_token": token_of(listed), "lang": "en", "next": "/console/runs"},
    )
    assert switched.status_code == 303
    refused = await console.post(
        "/console/runs",
        data={"csrf_token": token_of(listed), "business_date": missing.isoformat()},
    )
    assert refused.status_code == 409
    assert EN["reconcile_no_statement"].format(day=f"{missing:%d/%m/%Y}") in refused.text

    for typed in ("", "2025-13-40", "not a day", "0001-01-01"):
        bad = await console.post(
            "/console/runs", data={"csrf_token": token_of(listed), "business_date": typed}
        )
        assert bad.status_code == 400, typed
        assert EN["reconcile_bad_day"] in bad.text

    # A provider's report for a day whose treasury statement has not come: its page says so.
    report = await import_settlement(
        uow_factory,
        read_settlement("momo", io.BytesIO(MOMO_REPORT)),
        business_date=missing,
        actor="t",
        now=NIGHT,
    )
    path = f"/console/statements/{report.statement.id}"
    refused = await console.post(path, data={"csrf_token": token_of(await page(console, path))})
    assert refused.status_code == 409
    assert EN["reconcile_no_statement"].format(day=f"{missing:%d/%m/%Y}") in refused.text
    assert EN["reconcile_this_day"] in refused.text  # still the statement's page
    assert await runs(uow_factory) == []


async def test_forms_without_the_token_or_from_elsewhere_run_nothing(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    imported = await import_csv(uow_factory, statement(csv_line(day.paid[0])))
    path = f"/console/statements/{imported.statement.id}"
    token = token_of(await page(console, path))
    for target, fields in ((path, {}), ("/console/runs", {"business_date": DAY.isoformat()})):
        for data, headers in (
            (fields, {}),
            ({**fields, "csrf_token": token[:-1]}, {}),
            ({**fields, "csrf_token": token}, {"Origin": "https://evil.example"}),
            ({**fields, "csrf_token": token}, {"Referer": "https://evil.example/console/runs"}),
        ):
            refused = await console.post(target, data=data, headers=headers)
            assert refused.status_code == 403, (target, data, headers)
            assert VI["csrf_failed"] in refused.text
    assert await runs(uow_factory) == []
    unknown = await console.post("/console/statements/999999", data={"csrf_token": token})
    assert unknown.status_code == 404
    assert await runs(uow_factory) == []


async def test_signed_out_nobody_can_reconcile(
    database_url: str, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    imported = await import_csv(uow_factory, statement(csv_line(day.paid[0])))
    async with api_client(database_url) as http:
        token = token_of(await http.get("/console/sign-in"))
        for path, data in (
            (f"/console/statements/{imported.statement.id}", {"csrf_token": token}),
            ("/console/runs", {"csrf_token": token, "business_date": DAY.isoformat()}),
        ):
            answer = await http.post(path, data=data)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/console/sign-in")
    assert await runs(uow_factory) == []
