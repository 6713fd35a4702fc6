"""Uploading statements and settlement reports over /v1/reconciliation/statements: imported
once per content, all or nothing, under their own size limit, by treasury staff only; and a
run of the day reads what was uploaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.adapters.db import tables
from payments.domain.access import Role
from payments.entrypoints import statement_upload
from payments.reconcile.formats.settlements import SETTLEMENT_MAX_BYTES
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import api_client
from tests.support.fuzz_requests import chunks
from tests.support.reconcile_days import DAY, csv_line, gateway, statement
from tests.support.statement_samples import SAMPLES, vnd_camt
from tests.support.stored_rows import stored_counts

LIMIT = 32_768  # PAYMENTS_STATEMENT_MAX_BYTES in these tests
URL = "/v1/reconciliation/statements"
QUERY = f"business_date={DAY.isoformat()}&source=treasury"
CSV = "text/csv"


@dataclass(frozen=True)
class Day:
    paid: tuple[str, str]  # two payments VNPay captured on DAY: 150.000 and 90.000
    keys: dict[Role, str]
    key_ids: dict[Role, int]

    def auth(self, role: Role = Role.TREASURY, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers


@pytest.fixture
async def day(uow_factory: SqlUnitOfWorkFactory) -> Day:
    gw = await gateway(uow_factory)
    first, second = await gw.paid(150_000), await gw.paid(90_000)
    keys, key_ids = {}, {}
    for role in Role:
        key, plain = await create_api_key(
            uow_factory, agency_code="DVC", role=role, label=None, actor="t", now=datetime.now(UTC)
        )
        keys[role], key_ids[role] = plain, key.id
    return Day((first.id, second.id), keys, key_ids)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, statement_max_bytes=LIMIT) as http:
        yield http


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_upload_a_statement_then_reconcile_the_day(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    content = statement(csv_line(day.paid[0]), csv_line("NOIDUNG-LA", 40_000))
    uploaded = await client.post(
        f"{URL}?{QUERY}", content=content, headers=day.auth(content_type=CSV)
    )
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["already_imported"] is False
    assert uploaded.headers["location"] == f"{URL}/{body['id']}"
    assert uploaded.headers["idempotent-replayed"] == "false"
    assert (body["source"], body["business_date"], body["format"]) == (
        "treasury",
        "2025-03-12",
        "csv",
    )
    assert (body["line_count"], body["credit_total"], body["debit_total"]) == (2, 190_000, 0)
    assert body["imported_by"] == f"apikey:{day.key_ids[Role.TREASURY]}"
    assert len(body["content_hash"]) == 64
    assert await stored_counts(uow_factory) == (1, 2, 0)

    # The same bytes again (as an admin, untyped): the earlier statement, nothing stored.
    again = await client.post(
        f"{URL}?{QUERY}&format=csv",
        content=content,
        headers=day.auth(Role.ADMIN, content_type="application/octet-stream"),
    )
    assert again.status_code == 200, again.text
    assert again.json() == {**body, "already_imported": True}
    assert again.headers["idempotent-replayed"] == "true"
    assert await stored_counts(uow_factory) == (1, 2, 0)

    async with uow_factory() as unit:
        audit = (
            await unit.connection.execute(
                select(tables.audit_log.c.actor).where(
                    tables.audit_log.c.action == "reconcile.statement_imported",
                    tables.audit_log.c.target_id == str(body["id"]),
                )
            )
        ).all()
    assert [row.actor for row in audit] == [f"apikey:{day.key_ids[Role.TREASURY]}"]

    listed = (await client.get(f"{URL}?business_date=2025-03-12", headers=day.auth())).json()
    assert [s["id"] for s in listed["data"]] == [body["id"]]
    one = await client.get(f"{URL}/{body['id']}", headers=day.auth())
    assert one.json() == {k: v for k, v in body.items() if k != "already_imported"}

    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=day.auth()
    )
    assert run.status_code == 201, run.text
    assert run.json()["statements"] == [body["id"]]
    totals = run.json()["totals"]
    assert totals["matched"]["treasury_amount"] == 150_000
    assert totals["unknown_at_gateway"]["treasury_amount"] == 40_000
    assert totals["missing_at_treasury"]["gateway_amount"] == 90_000


async def test_camt_statements_real_and_generated(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # A real bank's camt.053 (read in place): well-formed, but in EUR, and treasury
    # collection accounts are in VND, so it is refused whole, with the reason.
    real = (SAMPLES / "oca-test-camt053.xml").read_bytes()
    refused = await client.post(
        f"{URL}?{QUERY}", content=real, headers=day.auth(content_type="application/xml")
    )
    body = problem(refused, 422)
    assert "EUR" in str(body["detail"])
    assert "VND" in str(body["detail"])
    assert await stored_counts(uow_factory) == (0, 0, 0)

    generated = await client.post(
        f"{URL}?{QUERY}",
        content=vnd_camt(day.paid[0], day.paid[1]),
        headers=day.auth(content_type="application/xml; charset=utf-8"),
    )
    assert generated.status_code == 201, generated.text
    assert generated.json()["format"] == "camt.053"
    assert generated.json()["statement_id"] == "KBNN-20250312"
    assert generated.json()["credit_total"] == 300_000
    assert await stored_counts(uow_factory) == (1, 2, 0)


async def test_a_malformed_file_is_refused_whole_with_its_line_numbers(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    content = statement(
        csv_line(day.paid[0]),
        "2025-03-12,-5,VND,credit,,x,y\n",  # line 3
        csv_line(day.paid[1]),
        "2025-02-30,100,VND,credit,,x,y\n",  # line 5
        "only,three,fields\n",  # line 6
    )
    refused = await client.post(
        f"{URL}?{QUERY}", content=content, headers=day.auth(content_type=CSV)
    )
    body = problem(refused, 422)
    assert [e["line"] for e in body["line_errors"]] == [3, 5, 6]
    assert body["more_line_errors"] == 0
    assert [e["field"] for e in body["errors"]] == ["line 3", "line 5", "line 6"]
    assert await stored_counts(uow_factory) == (0, 0, 0)

    # Many bad lines: the first hundred are listed, the rest counted.
    many = statement(*("2025-03-12,abc,VND,credit,,x,y\n" for _ in range(250)))
    refused = await client.post(f"{URL}?{QUERY}", content=many, headers=day.auth(content_type=CSV))
    body = problem(refused, 422)
    listed = body["line_errors"]
    assert isinstance(listed, list)
    assert [e["line"] for e in listed] == list(range(2, 102))
    assert body["more_line_errors"] == 150
    assert await stored_counts(uow_factory) == (0, 0, 0)

    # Nothing was imported: a run of the day is refused rather than reading every payment
    # as missing.
    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=day.auth()
    )
    problem(run, 409)


async def test_an_oversized_file_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    line = csv_line(day.paid[0])
    lines = [line] * (LIMIT // len(line) + 1)
    content = statement(*lines)
    assert len(content) > LIMIT
    declared = await client.post(
        f"{URL}?{QUERY}", content=content, headers=day.auth(content_type=CSV)
    )
    assert "limited to 32768 bytes" in str(problem(declared, 413)["detail"])
    # Streamed without a Content-Length: refused once the limit is passed.
    streamed = await client.post(
        f"{URL}?{QUERY}", content=chunks(content, 4096), headers=day.auth(content_type=CSV)
    )
    problem(streamed, 413)
    assert await stored_counts(uow_factory) == (0, 0, 0)
    # Just under the limit is fine.
    fits = statement(*lines[: (LIMIT - 200) // len(line)])
    assert len(fits) <= LIMIT
    assert len(fits) + len(line) > LIMIT - 200
    accepted = await client.post(f"{URL}?{QUERY}", content=fits, headers=day.auth(content_type=CSV))
    assert accepted.status_code == 201, accepted.text


async def test_the_default_limit_lets_a_large_file_through(database_url: str, day: Day) -> None:
    line = csv_line(day.paid[0])
    content = statement(*[line] * (200_000 // len(line)))  # three times PAYMENTS_MAX_BODY_BYTES
    async with api_client(database_url) as http:
        accepted = await http.post(
            f"{URL}?{QUERY}", content=content, headers=day.auth(content_type=CSV)
        )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["line_count"] == content.count(b"\n") - 1


async def test_only_treasury_staff_and_admins(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    content = statement(csv_line(day.paid[0]))
    for role in (Role.PORTAL, Role.FINANCE):
        problem(
            await client.post(
                f"{URL}?{QUERY}", content=content, headers=day.auth(role, content_type=CSV)
            ),
            403,
        )
        problem(await client.get(URL, headers=day.auth(role)), 403)
        problem(await client.get(f"{URL}/1", headers=day.auth(role)), 403)
    problem(
        await client.post(f"{URL}?{QUERY}", content=content, headers={"Content-Type": CSV}), 401
    )
    assert await stored_counts(uow_factory) == (0, 0, 0)


@pytest.mark.parametrize(
    ("query", "content_type", "status"),
    [
        ("source=treasury", "text/csv", 400),  # no business date
        ("business_date=2025-02-30&source=treasury", "text/csv", 400),
        ("business_date=2025-03-12", "text/csv", 400),  # no source
        ("business_date=2025-03-12&source=bank", "text/csv", 400),
        ("business_date=2025-03-12&source=treasury&format=pdf", "text/csv", 400),
        ("business_date=2025-03-12&source=vnpay&format=camt", "text/csv", 400),
        ("business_date=2025-03-12&source=momo", "application/xml", 400),
        ("business_date=2025-03-12&source=treasury&extra=1", "text/csv", 400),
        ("business_date=2025-03-12&source=treasury", "application/json", 415),
        ("business_date=2025-03-12&source=treasury", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_bad_parameters(
    client: httpx.AsyncClient,
    day: Day,
    uow_factory: SqlUnitOfWorkFactory,
    query: str,
    content_type: str,
    status: int,
) -> None:
    content = statement(csv_line(day.paid[0]))
    answer = await client.post(
        f"{URL}?{query}", content=content, headers=day.auth(content_type=content_type)
    )
    problem(answer, status)
    assert await stored_counts(uow_factory) == (0, 0, 0)


async def test_an_empty_body_and_unknown_ids(client: httpx.AsyncClient, day: Day) -> None:
    problem(
        await client.post(f"{URL}?{QUERY}", content=b"", headers=day.auth(content_type=CSV)), 400
    )
    for raw in ("999", "0", "abc", "1e3"):
        problem(await client.get(f"{URL}/{raw}", headers=day.auth()), 404)
    problem(await client.get(f"{URL}?cursor=nonsense", headers=day.auth()), 400)


async def test_settlement_reports_and_the_list(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # VNPay settles only the first payment: the run checks three ways and finds the second
    # missing at the provider.
    report = (
        "vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"
        f"{day.paid[0]},14000001,15000000,110000,20250312\n"
    ).encode()
    uploaded = await client.post(
        f"{URL}?business_date=2025-03-12&source=vnpay",
        content=report,
        headers=day.auth(content_type=CSV),
    )
    assert uploaded.status_code == 201, uploaded.text
    settled = uploaded.json()
    assert (settled["source"], settled["line_count"]) == ("vnpay", 1)
    assert (settled["credit_total"], settled["debit_total"]) == (150_000, 1_100)
    bad = await client.post(
        f"{URL}?business_date=2025-03-12&source=momo",
        content=b"orderId,transId,amount,fee,settlementDate\nx,1,abc,0,2025-03-12\n",
        headers=day.auth(content_type=CSV),
    )
    assert [e["line"] for e in problem(bad, 422)["line_errors"]] == [2]
    treasury = await client.post(
        f"{URL}?{QUERY}",
        content=statement(csv_line(day.paid[0]), csv_line(day.paid[1], 90_000)),
        headers=day.auth(content_type=CSV),
    )
    assert treasury.status_code == 201
    assert await stored_counts(uow_factory) == (2, 2, 1)

    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=day.auth()
    )
    assert run.status_code == 201, run.text
    assert run.json()["totals"]["provider_missing"]["gateway_amount"] == 90_000
    assert run.json()["totals"]["matched"]["count"] == 2

    everything = (await client.get(URL, headers=day.auth())).json()
    assert [s["id"] for s in everything["data"]] == [treasury.json()["id"], settled["id"]]
    only = (await client.get(f"{URL}?source=vnpay", headers=day.auth())).json()
    assert [s["id"] for s in only["data"]] == [settled["id"]]
    other_day = (await client.get(f"{URL}?business_date=2025-03-13", headers=day.auth())).json()
    assert other_day == {"data": [], "has_more": False, "next_cursor": None}
    first = (await client.get(f"{URL}?limit=1", headers=day.auth())).json()
    assert first["has_more"] is True
    rest = (
        await client.get(f"{URL}?limit=1&cursor={first['next_cursor']}", headers=day.auth())
    ).json()
    assert [s["id"] for s in first["data"] + rest["data"]] == [s["id"] for s in everything["data"]]
    assert rest["has_more"] is False


async def test_the_operations_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    upload = spec["paths"][URL]["post"]
    assert set(upload["requestBody"]["content"]) == {
        "text/csv",
        "application/xml",
        "application/octet-stream",
    }
    assert {"200", "201", "413", "415", "422"} <= set(upload["responses"])
    assert {p["name"]: p["required"] for p in upload["parameters"]} == {
        "business_date": True,
        "source": True,
        "format": False,
    }
    assert "get" in spec["paths"][URL]
    assert "get" in spec["paths"][f"{URL}/{{statement_id}}"]


async def test_the_same_file_uploaded_twice_at_once(
    client: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """A double click: both uploads race to store the same bytes; one stores them, the other
    answers with that statement (the content hash is unique), never a 5xx."""
    content = statement(*(csv_line(day.paid[0]) for _ in range(300)))
    answers = await asyncio.gather(
        *(
            client.post(f"{URL}?{QUERY}", content=content, headers=day.auth(content_type=CSV))
            for _ in range(3)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await stored_counts(uow_factory) == (1, 300, 0)


async def test_large_files_are_imported_off_the_event_loop(
    client: httpx.AsyncClient,
    day: Day,
    uow_factory: SqlUnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above ``IN_LOOP_BYTES`` the import runs on a thread with its own loop and connection:
    the same answers, the same all-or-nothing and once-per-content rules."""
    monkeypatch.setattr(statement_upload, "IN_LOOP_BYTES", 0)
    content = statement(csv_line(day.paid[0]), csv_line(day.paid[1], 90_000))
    answers = await asyncio.gather(
        *(
            client.post(f"{URL}?{QUERY}", content=content, headers=day.auth(content_type=CSV))
            for _ in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    bad = statement(csv_line(day.paid[0]), "2025-03-12,x,VND,credit,,a,b\n")
    refused = await client.post(f"{URL}?{QUERY}", content=bad, headers=day.auth(content_type=CSV))
    assert [e["line"] for e in problem(refused, 422)["line_errors"]] == [3]
    report = b"orderId,transId,amount,fee,settlementDate\nx,1,150000,0,2025-03-12\n"
    settled = await client.post(
        f"{URL}?business_date=2025-03-12&source=momo",
        content=report,
        headers=day.auth(content_type=CSV),
    )
    assert settled.status_code == 201, settled.text
    assert await stored_counts(uow_factory) == (2, 2, 1)
    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=day.auth()
    )
    assert run.json()["totals"]["matched"]["count"] == 2


async def test_a_settlement_report_is_refused_at_its_own_cap_while_it_streams(
    database_url: str, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # Reports are read whole, so their cap is below the statements' and applies as the body
    # arrives (413), not after the whole body was spooled (a 422 from the parser).
    cap = SETTLEMENT_MAX_BYTES
    async with api_client(database_url, statement_max_bytes=4 * cap) as client:
        block = b"x" * (1 << 20)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(cap // len(block) + 1):
                yield block

        refused = await client.post(
            f"{URL}?business_date={DAY.isoformat()}&source=vnpay",
            content=body(),
            headers=day.auth(content_type=CSV),
        )
    assert f"limited to {cap} bytes" in str(problem(refused, 413)["detail"])
    assert await stored_counts(uow_factory) == (0, 0, 0)
