"""The ledger over HTTP: accounts, balances as of a time, the trial balance, roles; an
agency's finance key sees its own accounts only, staff see the whole ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from payments.domain.access import Role
from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, make_portal

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


# --- scoped to the caller's agency ----------------------------------------------------------


async def capture(
    uow: SqlUnitOfWorkFactory, key: str, agency: str, sub_item: str, amount: int, cur: str = "VND"
) -> None:
    async with uow() as unit:
        await post_entry(
            unit.ledger,
            EntryDraft(
                source_key=key,
                description="Payment succeeded",
                occurred_at=T0,
                legs=(
                    debit(chart.provider_clearing("vnpay", cur), amount),
                    credit(chart.budget_payable(agency, sub_item, cur), amount),
                ),
            ),
            now=T0,
        )
        await unit.commit()


async def two_agencies(uow: SqlUnitOfWorkFactory) -> tuple[Portal, Portal]:
    """Agency A with two sub-items; agency B with one sub-item in VND and one in USD; one
    refund booked for A (the gateway's refunds-payable)."""
    a, b = await make_portal(uow, T0), await make_portal(uow, T0)
    await capture(uow, "payment:a1:captured", a.code, "2662", 150_000)
    await capture(uow, "payment:a2:captured", a.code, "3052", 70_000)
    await capture(uow, "payment:b1:captured", b.code, "2662", 40_000)
    await capture(uow, "payment:b2:captured", b.code, "2662", 9, "USD")
    async with uow() as unit:
        await post_entry(
            unit.ledger,
            EntryDraft(
                source_key="refund:a1:booked",
                description="Refund approved",
                occurred_at=T0,
                legs=(
                    debit(chart.budget_payable(a.code, "2662"), 20_000),
                    credit(chart.refunds_payable(), 20_000),
                ),
            ),
            now=T0,
        )
        await unit.commit()
    return a, b


async def codes(client: httpx.AsyncClient, auth: dict[str, str], query: str = "") -> list[str]:
    answer = await client.get(f"/v1/ledger/accounts?limit=200{query}", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["has_more"] is False
    return [row["code"] for row in answer.json()["data"]]


async def test_an_agency_finance_key_reads_only_its_own_accounts(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    a, b = await two_agencies(uow_factory)
    auth = b.auth(Role.FINANCE)
    own = [f"budget-payable:{b.code}:2662", f"budget-payable:{b.code}:2662:USD"]

    mine = await client.get(f"/v1/ledger/accounts/{own[0]}", headers=auth)
    assert (mine.status_code, mine.json()["balance"]) == (200, 40_000)
    missing = await client.get(f"/v1/ledger/accounts/budget-payable:{b.code}:9999", headers=auth)
    # Another agency's account, and the gateway's own, answer exactly like a missing one.
    for code in (f"budget-payable:{a.code}:2662", "clearing:vnpay", "refunds-payable"):
        other = await client.get(f"/v1/ledger/accounts/{code}", headers=auth)
        assert other.status_code == 404, (code, other.text)
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json().keys() == missing.json().keys()
        assert other.json()["title"] == missing.json()["title"]

    assert await codes(client, auth) == own
    assert await codes(client, auth, "&code_prefix=budget-payable:") == own
    assert await codes(client, auth, f"&code_prefix=budget-payable:{b.code}:2662:") == own[1:]
    assert await codes(client, auth, f"&code_prefix=budget-payable:{a.code}") == []
    assert await codes(client, auth, "&code_prefix=clearing") == []
    assert await codes(client, auth, "&type=asset") == []
    assert await codes(client, auth, "&currency=USD") == own[1:]
    assert await codes(client, auth, f"&cursor=budget-payable:{a.code}:2662") == own

    trial = (await client.get("/v1/ledger/trial-balance", headers=auth)).json()
    assert [row["code"] for row in trial["accounts"]] == own
    assert trial["agency"] == b.code
    assert trial["balanced"] is None  # one side of the books: nothing to balance
    assert trial["totals"] == [
        {"currency": "USD", "debits": 0, "credits": 9, "balanced": None},
        {"currency": "VND", "debits": 0, "credits": 40_000, "balanced": None},
    ]
    a_trial = (await client.get("/v1/ledger/trial-balance", headers=a.auth(Role.FINANCE))).json()
    assert a_trial["totals"] == [
        {"currency": "VND", "debits": 20_000, "credits": 220_000, "balanced": None}
    ]


async def test_admin_and_treasury_read_the_whole_ledger(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    a, b = await two_agencies(uow_factory)
    everything = sorted(
        [
            f"budget-payable:{a.code}:2662",
            f"budget-payable:{a.code}:3052",
            f"budget-payable:{b.code}:2662",
            f"budget-payable:{b.code}:2662:USD",
            "clearing:vnpay",
            "clearing:vnpay:USD",
            "refunds-payable",
        ]
    )
    for role in (Role.ADMIN, Role.TREASURY):
        auth = b.auth(role)  # staff of any agency: gateway-wide, as reconciliation is
        assert await codes(client, auth) == everything
        other = await client.get(f"/v1/ledger/accounts/budget-payable:{a.code}:2662", headers=auth)
        assert (other.status_code, other.json()["balance"]) == (200, 130_000)
        trial = (await client.get("/v1/ledger/trial-balance", headers=auth)).json()
        assert (trial["agency"], trial["balanced"]) == (None, True)
        assert [row["code"] for row in trial["accounts"]] == everything
        assert all(t["balanced"] is True for t in trial["totals"])


async def test_pages_stay_full_and_exact_under_the_scope(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    a, b = sorted(
        [await make_portal(uow_factory, T0), await make_portal(uow_factory, T0)],
        key=lambda portal: portal.code,
    )
    for n, sub_item in enumerate(["1001", "1002", "1003", "1004", "1005"]):
        # The other agency's accounts sort before B's, the clearing account after: a page
        # cut from the whole chart and filtered afterwards would come back short or empty.
        await capture(uow_factory, f"payment:a{n}:captured", a.code, sub_item, 1_000)
        await capture(uow_factory, f"payment:b{n}:captured", b.code, sub_item, 2_000)
        await capture(uow_factory, f"payment:c{n}:captured", a.code, f"{sub_item}9", 3_000)
    auth = b.auth(Role.FINANCE)
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        answer = await client.get(f"/v1/ledger/accounts?limit=2{cursor}", headers=auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        assert len(body["data"]) == (2 if body["has_more"] else 1)
        seen += [row["code"] for row in body["data"]]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert pages == 3
    assert seen == [
        f"budget-payable:{b.code}:{s}" for s in ["1001", "1002", "1003", "1004", "1005"]
    ]
    assert len(set(seen)) == len(seen)
