"""Uploads over /v1/reconciliation/statements whatever the file's layout, and within the
limits of what a statement may carry.

A camt.053 written on one line (as many bank exports are) imports and reconciles exactly as
the same statement pretty-printed: its entries are numbered 1..N, not by the line they sit
on (once every entry of such a file took line 1 and the import answered 500). A file with a
line past a field's limit is refused whole with a 422 naming the entry or line and the field,
and nothing is stored: a 3 MB end-to-end id, a reference longer than its column, a NUL (which
PostgreSQL cannot store), an amount no ledger leg can carry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payments.reconcile.formats.statements import (
    MAX_AMOUNT,
    BookingStatus,
    Direction,
    StatementLine,
)
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import api_client
from tests.support.console_uploads import Day, make_day
from tests.support.reconcile_days import DAY
from tests.support.statement_layouts import CamtLayout, CsvLayout
from tests.support.stored_rows import stored_counts

URL = "/v1/reconciliation/statements"
TREASURY = f"{URL}?business_date={DAY.isoformat()}&source=treasury"
XML = {"Content-Type": "application/xml"}
CSV = {"Content-Type": "text/csv"}

LAYOUTS = {
    "pretty": CamtLayout(),
    "one line": CamtLayout(pretty=False),
    "pretty, CRLF, BOM": CamtLayout(crlf=True, bom=True),
    "one line, prefixed, BOM, .02": CamtLayout(pretty=False, prefix="c", bom=True, version="02"),
    "camt.054 .04 on one line": CamtLayout(message="camt.054", version="04", pretty=False),
}


@pytest.fixture
async def day(uow_factory: SqlUnitOfWorkFactory) -> Day:
    return await make_day(uow_factory)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Room for a 3 MB field: the file is refused for it, not for its size.
    async with api_client(database_url, statement_max_bytes=8 << 20) as http:
        yield http


def auth(day: Day) -> dict[str, str]:
    return {"Authorization": f"Bearer {day.key}"}


def credit(reference: str, amount: int, bank_reference: str) -> StatementLine:
    return StatementLine(
        0, amount, "VND", Direction.CREDIT, False, BookingStatus.BOOKED, DAY, DAY,
        bank_reference, reference, "NOP NSNN", None,
    )  # fmt: skip


def refused(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
async def test_a_camt_statement_imports_and_reconciles_the_same_in_every_layout(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory, layout: CamtLayout
) -> None:
    # The day paid 150.000 and 90.000; the treasury has the first, a stranger's 40.000, and
    # 80.000 for the second.
    lines = [
        credit(day.paid[0], 150_000, "KB1"),
        credit("NOIDUNG-LA", 40_000, "KB2"),
        credit(day.paid[1], 80_000, "KB3"),
    ]
    content = layout.render(lines, "VND")
    uploaded = await client.post(TREASURY, content=content, headers={**auth(day), **XML})
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert (body["format"], body["line_count"], body["credit_total"]) == (
        layout.message,
        3,
        270_000,
    )
    assert await stored_counts(uow_factory) == (1, 3, 0)

    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=auth(day)
    )
    assert run.status_code == 201, run.text
    totals = run.json()["totals"]
    assert {outcome: (t["count"], t["treasury_amount"]) for outcome, t in totals.items()} == {
        "matched": (1, 150_000),
        "unknown_at_gateway": (1, 40_000),
        "amount_mismatch": (1, 80_000),
    }
    items = await client.get(f"/v1/reconciliation/runs/{run.json()['id']}/items", headers=auth(day))
    found = sorted(
        (item["line_number"], item["outcome"], item["payment_id"]) for item in items.json()["data"]
    )
    assert found == [
        (1, "matched", day.paid[0]),
        (2, "unknown_at_gateway", None),
        (3, "amount_mismatch", day.paid[1]),
    ]


@pytest.mark.parametrize("layout", [CsvLayout(), CsvLayout(crlf=True, bom=True)])
async def test_a_csv_statement_with_crlf_and_a_bom_imports_the_same(
    client: httpx.AsyncClient, day: Day, layout: CsvLayout
) -> None:
    content = layout.render([credit(day.paid[0], 150_000, "KB1"), credit("X", 40_000, "KB2")])
    uploaded = await client.post(TREASURY, content=content, headers={**auth(day), **CSV})
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["line_count"], uploaded.json()["credit_total"]) == (2, 190_000)


async def test_a_three_megabyte_end_to_end_id_is_refused_by_its_entry(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    huge = "E" * (3 << 20)
    lines = [credit(day.paid[0], 150_000, "KB1"), credit(huge, 90_000, "KB2")]
    content = CamtLayout(pretty=False).render(lines, "VND")
    second = content.index(b"<Ntry>", content.index(b"KB1"))
    body = refused(await client.post(TREASURY, content=content, headers={**auth(day), **XML}))
    message = f"end_to_end_id is {3 << 20} characters long, at most 140 are accepted"
    assert body["line_errors"] == [
        {"line": 1, "column": second + 1, "entry": 2, "message": message}
    ]
    assert body["errors"] == [{"field": "entry 2", "message": message}]
    assert f"entry 2 (line 1, column {second + 1}): {message}" in body["detail"]
    assert len(response_text := str(body)) < 10_000, "the field is not echoed back"
    assert huge[:100] not in response_text
    assert await stored_counts(uow_factory) == (0, 0, 0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "2025-03-12,1000,VND,credit,," + "R" * 141 + ",NOP NSNN",
            "bank_reference is 141 characters long, at most 140 are accepted",
        ),
        ("2025-03-12,1000,VND,credit,,KB2,NOP\x00NSNN", "remittance contains a NUL character"),
        (
            f"2025-03-12,{MAX_AMOUNT + 1},VND,credit,,KB2,NOP",
            f"amount {MAX_AMOUNT + 1} is more than {MAX_AMOUNT} minor units",
        ),
    ],
)
async def test_a_csv_line_past_a_limit_is_refused_by_its_line(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory, row: str, message: str
) -> None:
    header = "booking_date,amount,currency,direction,payment_reference,bank_reference,remittance"
    content = f"{header}\n2025-03-12,150000,VND,credit,{day.paid[0]},KB1,NOP\n{row}\n".encode()
    body = refused(await client.post(TREASURY, content=content, headers={**auth(day), **CSV}))
    assert body["line_errors"] == [{"line": 3, "column": None, "entry": None, "message": message}]
    assert body["errors"] == [{"field": "line 3", "message": message}]
    assert await stored_counts(uow_factory) == (0, 0, 0)


async def test_a_settlement_line_past_a_limit_is_refused_by_its_line(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    report = (
        "vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"
        f"{day.paid[0]},14000001,15000000,0,20250312\n"
        f"{'T' * 101},14000002,9000000,0,20250312\n"
    ).encode()
    body = refused(
        await client.post(
            f"{URL}?business_date={DAY.isoformat()}&source=vnpay",
            content=report,
            headers={**auth(day), **CSV},
        )
    )
    message = "vnp_TxnRef is 101 characters long, at most 100 are accepted"
    assert body["line_errors"] == [{"line": 3, "column": None, "entry": None, "message": message}]
    assert await stored_counts(uow_factory) == (0, 0, 0)
