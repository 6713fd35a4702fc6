"""The ledger over HTTP: accounts, balances as of a time, the trial balance, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from payments.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from payments.domain.access import Role
from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from tests.api import Portal

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def post_payment(uow: SqlUnitOfWorkFactory, key: str, amount: int, at: datetime) -> None:
    async with uow() as unit:
        await post_entry(
            unit.ledger,
            EntryDraft(
                source_key=key,
                description="Payment succeeded",
                occurred_at=at,
                legs=(
                    debit(chart.provider_clearing("vnpay"), amount),
                    credit(chart.budget_payable("DVC", "2662"), amount),
                ),
            ),
            now=at,
        )
        await unit.commit()


async def test_balances_now_and_as_of_a_past_time(
    client: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await post_payment(uow_factory, "payment:a:captured", 150_000, T0)
    await post_payment(uow_factory, "payment:b:captured", 50_000, T0 + timedelta(days=1))
    auth = portal.auth(Role.TREASURY)

    now = await client.get("/v1/ledger/accounts/clearing:vnpay", headers=auth)
    assert now.status_code == 200, now.text
    assert now.json()["balance"] == 200_000
    assert now.json()["type"] == "asset"
    between = (T0 + timedelta(hours=1)).isoformat().replace("+", "%2B")
    past = await client.get(f"/v1/ledger/accounts/clearing:vnpay?as_of={between}", headers=auth)
    assert past.json()["balance"] == 150_000
    payable = await client.get("/v1/ledger/accounts/budget-payable:DVC:2662", headers=auth)
    assert payable.json() | {"as_of": None} == {
        "code": "budget-payable:DVC:2662",
        "name": payable.json()["name"],
        "type": "liability",
        "currency": "VND",
        "debits": 0,
        "credits": 200_000,
        "balance": 200_000,
        "as_of": None,
    }

    trial = (await client.get("/v1/ledger/trial-balance", headers=auth)).json()
    assert trial["balanced"] is True
    assert trial["totals"] == [
        {"currency": "VND", "debits": 200_000, "credits": 200_000, "balanced": True}
    ]

    listing = await client.get("/v1/ledger/accounts?limit=1", headers=auth)
    first = listing.json()
    assert len(first["data"]) == 1
    assert first["has_more"] is True
    rest = await client.get(f"/v1/ledger/accounts?cursor={first['next_cursor']}", headers=auth)
    codes = [a["code"] for a in first["data"] + rest.json()["data"]]
    assert codes == ["budget-payable:DVC:2662", "clearing:vnpay"]
    assets = await client.get("/v1/ledger/accounts?type=asset", headers=auth)
    assert [a["code"] for a in assets.json()["data"]] == ["clearing:vnpay"]


async def test_roles_and_errors(client: httpx.AsyncClient, portal: Portal) -> None:
    portal_key = await client.get("/v1/ledger/trial-balance", headers=portal.auth(Role.PORTAL))
    assert portal_key.status_code == 403
    for role in (Role.TREASURY, Role.FINANCE, Role.ADMIN):
        allowed = await client.get("/v1/ledger/trial-balance", headers=portal.auth(role))
        assert allowed.status_code == 200
    missing = await client.get("/v1/ledger/accounts/nope", headers=portal.auth(Role.ADMIN))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    naive = await client.get(
        "/v1/ledger/trial-balance?as_of=2026-01-01T00:00:00", headers=portal.auth(Role.ADMIN)
    )
    assert naive.status_code == 400
