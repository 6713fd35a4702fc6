"""/v1/reconciliation over HTTP: treasury staff read a night's report, export it, resolve an
exception, run a day again; hostile ids, queries and bodies get 4xx problems, never a 5xx."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from payments.domain.access import Role
from payments.reconcile.usecases.day import reconcile_day
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.fuzz_requests import check, encode_query, header_bytes, quote_id
from tests.support.fuzz_strategies import FEW, cursor_for, json_bodies, odd_text, query_values
from tests.support.reconcile_days import DAY, NIGHT, csv_line, gateway, import_csv, statement

REAL_RUN = "<real-run>"
REAL_ITEM = "<real-item>"


@dataclass(frozen=True)
class Night:
    run_id: int
    paid: tuple[str, str]  # matched, missing at treasury
    keys: dict[Role, str]

    def auth(self, role: Role = Role.TREASURY) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
async def night(uow_factory: SqlUnitOfWorkFactory) -> Night:
    gw = await gateway(uow_factory)
    matched, missing = await gw.paid(150_000), await gw.paid(90_000)
    await import_csv(uow_factory, statement(csv_line(matched.id), csv_line("", 5, direction="d")))
    result = await reconcile_day(uow_factory, DAY, now=NIGHT)
    keys = {}
    for role in Role:
        _, plain = await create_api_key(
            uow_factory,
            agency_code="DVC",
            role=role,
            label=None,
            actor="t",
            now=datetime.now(UTC),
        )
        keys[role] = plain
    return Night(result.run.id, (matched.id, missing.id), keys)


async def test_treasury_staff_work_through_a_night(client: httpx.AsyncClient, night: Night) -> None:
    runs = (await client.get("/v1/reconciliation/runs", headers=night.auth())).json()
    assert [r["id"] for r in runs["data"]] == [night.run_id]

    run = await client.get(f"/v1/reconciliation/runs/{night.run_id}", headers=night.auth())
    assert run.status_code == 200
    report = run.json()
    assert report["totals"]["matched"] == {
        "count": 1,
        "gateway_amount": 150_000,
        "treasury_amount": 150_000,
    }
    assert report["is_latest"] is True
    assert {(b["key"], b["outcome"], b["count"]) for b in report["by_agency"]} == {
        ("DVC", "matched", 1),
        ("DVC", "missing_at_treasury", 1),
        (None, "ignored", 1),
    }

    query = "state=open&outcome=missing_at_treasury,amount_mismatch"
    items = await client.get(
        f"/v1/reconciliation/runs/{night.run_id}/items?{query}", headers=night.auth()
    )
    [exception] = items.json()["data"]
    assert (exception["payment_id"], exception["gateway_amount"]) == (night.paid[1], 90_000)

    page = (
        await client.get(
            f"/v1/reconciliation/runs/{night.run_id}/items?limit=2", headers=night.auth()
        )
    ).json()
    assert page["has_more"] is True
    rest = (
        await client.get(
            f"/v1/reconciliation/runs/{night.run_id}/items?limit=2&cursor={page['next_cursor']}",
            headers=night.auth(),
        )
    ).json()
    assert len(page["data"]) + len(rest["data"]) == 3
    assert rest["has_more"] is False

    exported = await client.get(
        f"/v1/reconciliation/runs/{night.run_id}/items.csv", headers=night.auth(Role.ADMIN)
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["outcome"] for r in rows] == ["matched", "ignored", "missing_at_treasury"]

    resolved = await client.post(
        f"/v1/reconciliation/items/{exception['id']}/resolve",
        json={"note": "=Paid twice by the payer, refunded"},
        headers=night.auth(),
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    again = await client.post(
        f"/v1/reconciliation/items/{exception['id']}/resolve",
        json={"note": "again"},
        headers=night.auth(),
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    detail = (
        await client.get(f"/v1/reconciliation/items/{exception['id']}", headers=night.auth())
    ).json()
    assert [h["action"] for h in detail["history"]] == ["opened", "resolved"]
    exported = await client.get(
        f"/v1/reconciliation/runs/{night.run_id}/items.csv?state=resolved", headers=night.auth()
    )
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["resolution_note"] == "'=Paid twice by the payer, refunded"  # no formula

    rerun = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=night.auth()
    )
    assert rerun.status_code == 201, rerun.text
    assert rerun.json()["posted_payments"] == 0
    items = await client.get(
        f"/v1/reconciliation/runs/{rerun.json()['id']}/items?state=resolved",
        headers=night.auth(),
    )
    assert [i["payment_id"] for i in items.json()["data"]] == [night.paid[1]]


async def test_only_treasury_staff_and_admins(client: httpx.AsyncClient, night: Night) -> None:
    for role, status in ((Role.PORTAL, 403), (Role.FINANCE, 403), (Role.TREASURY, 200)):
        response = await client.get("/v1/reconciliation/runs", headers=night.auth(role))
        assert response.status_code == status
    assert (await client.get("/v1/reconciliation/runs")).status_code == 401


ids = st.one_of(
    st.sampled_from([REAL_RUN, REAL_ITEM, "0", "-1", "1e3", "9" * 30, "٣", "1 ", "00001"]),
    odd_text,
)
RUN_QUERY_NAMES = [
    "business_date",
    "limit",
    "cursor",
    "outcome",
    "state",
    "agency",
    "provider",
    "treasury_code",
    "chapter",
    "sub_item",
    "payment_id",
]
pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(RUN_QUERY_NAMES), odd_text), query_values), max_size=6
)


@FEW
@given(
    some_id=ids,
    keep_slashes=st.booleans(),
    role=st.sampled_from(list(Role)),
    action=st.sampled_from(["run", "items", "csv", "item", "resolve", "runs", "post-run"]),
    query=pairs,
    body=st.one_of(st.just(b""), json_bodies, st.binary(max_size=100)),
)
@example(
    some_id=REAL_ITEM,
    keep_slashes=False,
    role=Role.TREASURY,
    action="resolve",
    query=[],
    body=b'{"note": "a\\u0000b"}',
)
@example(
    some_id=REAL_RUN,
    keep_slashes=False,
    role=Role.TREASURY,
    action="items",
    query=[("cursor", cursor_for("\x00")), ("agency", "a\x00b")],
    body=b"",
)
@example(
    some_id=REAL_RUN,
    keep_slashes=False,
    role=Role.ADMIN,
    action="post-run",
    query=[],
    body=b'{"business_date": "0001-01-01"}',
)
@example(
    some_id=REAL_RUN,
    keep_slashes=False,
    role=Role.ADMIN,
    action="runs",
    query=[("business_date", "9999-12-31"), ("cursor", cursor_for("99999999999999999999"))],
    body=b"",
)
async def test_hostile_requests_get_problems(
    client: httpx.AsyncClient,
    night: Night,
    some_id: str,
    keep_slashes: bool,
    role: Role,
    action: str,
    query: list[tuple[str, str]],
    body: bytes,
) -> None:
    real = {REAL_RUN: str(night.run_id), REAL_ITEM: "2"}
    path_id = real.get(some_id) or quote_id(some_id, keep_slashes=keep_slashes)
    headers = header_bytes({**night.auth(role), "Content-Type": "application/json"})
    qs = encode_query(query)
    base = "/v1/reconciliation"
    if action == "run":
        response = await client.get(f"{base}/runs/{path_id}?{qs}", headers=headers)
    elif action == "items":
        response = await client.get(f"{base}/runs/{path_id}/items?{qs}", headers=headers)
    elif action == "csv":
        response = await client.get(f"{base}/runs/{path_id}/items.csv?{qs}", headers=headers)
    elif action == "item":
        response = await client.get(f"{base}/items/{path_id}", headers=headers)
    elif action == "resolve":
        response = await client.post(
            f"{base}/items/{path_id}/resolve", content=body, headers=headers
        )
    elif action == "runs":
        response = await client.get(f"{base}/runs?{qs}", headers=headers)
    else:
        response = await client.post(f"{base}/runs", content=body, headers=headers)
    check(response)
