"""Reading, listing, cancelling and agency isolation of payments over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta

import httpx

from payments.domain.access import Role
from payments.entrypoints.api.schemas import PaymentEventList, PaymentOut, PaymentPage
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, make_portal, payment_body

_keys = itertools.count()


async def create(client: httpx.AsyncClient, portal: Portal, **changes: object) -> dict[str, object]:
    answer = await client.post(
        "/v1/payments",
        json=payment_body(**changes),
        headers={**portal.auth(), "Idempotency-Key": f"c{next(_keys)}"},
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    return created


async def test_another_agency_sees_nothing(
    client: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    mine = await create(client, portal)
    stranger = await make_portal(uow_factory, datetime.now(UTC))
    for method, path in [
        ("GET", f"/v1/payments/{mine['id']}"),
        ("GET", f"/v1/payments/{mine['id']}/events"),
        ("POST", f"/v1/payments/{mine['id']}/cancel"),
    ]:
        answer = await client.request(method, path, headers=stranger.auth())
        assert answer.status_code == 404, path
        missing = await client.request(
            method, path.replace(str(mine["id"]), "pay_nope"), headers=stranger.auth()
        )
        # No existence oracle: someone else's payment looks exactly like a missing one.
        assert answer.json()["title"] == missing.json()["title"]
    listing = await client.get("/v1/payments", headers=stranger.auth())
    assert listing.json()["data"] == []
    still = await client.get(f"/v1/payments/{mine['id']}", headers=portal.auth())
    assert still.json()["status"] == "created"


async def test_authentication_and_roles(client: httpx.AsyncClient, portal: Portal) -> None:
    no_key = await client.get("/v1/payments")
    assert no_key.status_code == 401
    assert no_key.headers["www-authenticate"].startswith("Bearer")
    bad_key = await client.get("/v1/payments", headers={"Authorization": "Bearer pfk_nope"})
    assert bad_key.status_code == 401
    finance_creates = await client.post(
        "/v1/payments",
        json=payment_body(),
        headers={**portal.auth(Role.FINANCE), "Idempotency-Key": "role"},
    )
    assert finance_creates.status_code == 403
    assert "portal" in finance_creates.json()["detail"]
    treasury_reads = await client.get("/v1/payments", headers=portal.auth(Role.TREASURY))
    assert treasury_reads.status_code == 200


async def test_filters(client: httpx.AsyncClient, portal: Portal) -> None:
    fee = await create(client, portal)
    tax = await create(client, portal, kind="tax", tax_code="0101234567")
    await client.post(f"/v1/payments/{fee['id']}/cancel", headers=portal.auth())

    async def ids(query: str) -> list[object]:
        answer = await client.get(f"/v1/payments?{query}", headers=portal.auth())
        assert answer.status_code == 200, answer.text
        return [p["id"] for p in answer.json()["data"]]

    assert await ids("kind=tax") == [tax["id"]]
    assert await ids("status=cancelled") == [fee["id"]]
    assert await ids("status=cancelled,created") == [tax["id"], fee["id"]]
    assert await ids(f"reference={fee['reference']}") == [fee["id"]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(f"created_from={future.replace('+', '%2B')}") == []
    # A window on created_at is also a range of ids (minted at created_at): its edges are
    # exact to the microsecond, whatever millisecond the ids carry.
    fee_at, tax_at = fee["created_at"], tax["created_at"]
    assert await ids(f"created_from={fee_at}&created_to={tax_at}") == [fee["id"]]
    assert await ids(f"created_from={tax_at}") == [tax["id"]]
    assert await ids(f"created_to={fee_at}") == []
    bad = await client.get("/v1/payments?status=paid&limit=0", headers=portal.auth())
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"status.0", "limit"}
    bad_cursor = await client.get("/v1/payments?cursor=zzz", headers=portal.auth())
    assert bad_cursor.status_code == 400


async def test_pagination_has_no_duplicates_or_gaps_while_rows_are_inserted(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    existing = [await create(client, portal) for _ in range(25)]
    seen: list[object] = []
    cursor = None
    inserted = 0
    while True:
        query = "limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/v1/payments?{query}", headers=portal.auth())).json()
        seen.extend(p["id"] for p in page["data"])
        # New payments arrive between page reads.
        await asyncio.gather(*(create(client, portal) for _ in range(2)))
        inserted += 2
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)), "a payment was listed twice"
    assert {p["id"] for p in existing} <= set(seen), "a payment that existed was skipped"
    assert seen == sorted(seen, key=str, reverse=True), "order is newest first and stable"


async def test_cancel_is_recorded_and_idempotent(client: httpx.AsyncClient, portal: Portal) -> None:
    payment = await create(client, portal)
    path = f"/v1/payments/{payment['id']}"
    first = await client.post(
        f"{path}/cancel", json={"reason": "dossier withdrawn"}, headers=portal.auth()
    )
    again = await client.post(f"{path}/cancel", headers=portal.auth())
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "cancelled"
    events = (await client.get(f"{path}/events", headers=portal.auth())).json()["data"]
    assert [(e["from_status"], e["to_status"], e["cause"]) for e in events] == [
        (None, "created", "api.create"),
        ("created", "cancelled", "api.cancel"),
    ]
    assert events[1]["detail"] == {"reason": "dossier withdrawn"}


async def test_request_id_is_kept_and_echoed(client: httpx.AsyncClient, portal: Portal) -> None:
    kept = await client.get("/v1/payments", headers={**portal.auth(), "X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    forged = await client.get("/v1/payments/x", headers={"X-Request-ID": "a\nfake log line"})
    assert forged.headers["x-request-id"] != "a\nfake log line"
    assert forged.json()["request_id"] == forged.headers["x-request-id"]


async def test_responses_match_the_published_schema(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    payment = await create(client, portal, metadata={"dossier": "X1"})
    PaymentOut.model_validate_json(json.dumps(payment))
    page = await client.get("/v1/payments", headers=portal.auth())
    PaymentPage.model_validate_json(page.content)
    events = await client.get(f"/v1/payments/{payment['id']}/events", headers=portal.auth())
    PaymentEventList.model_validate_json(events.content)


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
