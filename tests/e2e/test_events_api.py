"""/v1/events over HTTP: a portal's own events only, oldest first with a cursor that never
passes an unsettled event, filters, the delivery log, redelivery, and hostile input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.access import Role
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, api_client, make_portal, payment_body
from tests.support.fuzz_requests import check, encode_query, quote_id
from tests.support.fuzz_strategies import FUZZ, odd_text, query_values

SETTLE = timedelta(seconds=5)
SETTLED = SETTLE + timedelta(milliseconds=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(database_url: str, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, clock=clock) as http:
        yield http


async def cancelled(http: httpx.AsyncClient, portal: Portal, **body: Any) -> str:
    created = await http.post(
        "/v1/payments",
        json=payment_body(**body),
        headers={**portal.auth(), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["id"]
    answer = await http.post(f"/v1/payments/{payment_id}/cancel", headers=portal.auth())
    assert answer.status_code == 200
    return payment_id


async def poll(http: httpx.AsyncClient, portal: Portal, **query: Any) -> dict[str, Any]:
    answer = await http.get("/v1/events", params=query, headers=portal.auth())
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_poller_sees_every_event_once_in_order(
    api: httpx.AsyncClient, portal: Portal, clock: Clock
) -> None:
    first = await cancelled(api, portal, notify_url="https://portal.example.vn/n")
    # Too young: its id could still be passed by a transaction committing late.
    page = await poll(api, portal)
    assert page == {"data": [], "has_more": False, "next_cursor": None}
    clock.now += SETTLE
    second = await cancelled(api, portal)
    clock.now += SETTLE
    third = await cancelled(api, portal)
    clock.now += SETTLED  # strictly older than 5 s

    page = await poll(api, portal, limit=2)
    assert [e["data"]["id"] for e in page["data"]] == [first, second]
    assert page["has_more"] is True
    event = page["data"][0]
    assert event["object"] == "event"
    assert event["type"] == "payment.cancelled"
    assert event["id"].startswith("evt_")
    assert event["data"]["status"] == "cancelled"
    assert event["delivery"]["state"] == "pending"
    assert event["delivery"]["attempts"] == 0

    rest = await poll(api, portal, cursor=page["next_cursor"])
    assert [e["data"]["id"] for e in rest["data"]] == [third]
    assert rest["has_more"] is False
    empty = await poll(api, portal, cursor=rest["next_cursor"])
    assert empty["data"] == []
    assert empty["next_cursor"] == rest["next_cursor"]  # keep it and ask again later

    only = await poll(api, portal, payment_id=second)
    assert [e["data"]["id"] for e in only["data"]] == [second]
    typed = await poll(api, portal, type="payment.succeeded,payment.expired")
    assert typed["data"] == []
    since = (clock.now - SETTLE * 2).isoformat()  # after second (t+5 s), third is t+10 s
    recent = await poll(api, portal, created_from=since)
    assert [e["data"]["id"] for e in recent["data"]] == [third]


async def test_events_belong_to_their_agency(
    api: httpx.AsyncClient, portal: Portal, clock: Clock, uow_factory: SqlUnitOfWorkFactory
) -> None:
    other = await make_portal(uow_factory, clock.now)
    await cancelled(api, portal)
    clock.now += SETTLED
    mine = (await poll(api, portal))["data"][0]["id"]
    assert (await poll(api, other))["data"] == []
    for path in (f"/v1/events/{mine}", f"/v1/events/{mine}/deliveries"):
        answer = await api.get(path, headers=other.auth())
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
    refused = await api.post(f"/v1/events/{mine}/redeliver", headers=other.auth())
    assert refused.status_code == 404


async def test_deliveries_and_redelivery(
    api: httpx.AsyncClient, portal: Portal, clock: Clock
) -> None:
    await cancelled(api, portal)
    clock.now += SETTLED
    event_id = (await poll(api, portal))["data"][0]["id"]
    one = await api.get(f"/v1/events/{event_id}", headers=portal.auth(Role.TREASURY))
    assert one.status_code == 200
    assert one.json()["id"] == event_id
    log = await api.get(f"/v1/events/{event_id}/deliveries", headers=portal.auth(Role.FINANCE))
    assert log.json() == {"data": []}

    for role in (Role.FINANCE, Role.TREASURY):
        denied = await api.post(f"/v1/events/{event_id}/redeliver", headers=portal.auth(role))
        assert denied.status_code == 403
    clock.now += timedelta(minutes=3)
    again = await api.post(f"/v1/events/{event_id}/redeliver", headers=portal.auth())
    assert again.status_code == 202
    assert again.json()["delivery"]["state"] == "pending"
    assert again.json()["delivery"]["next_attempt_at"] == clock.now.isoformat().replace(
        "+00:00", "Z"
    )


async def test_the_routes_are_documented(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert set(spec["paths"]["/v1/events"]) == {"get"}
    assert set(spec["paths"]["/v1/events/{event_id}/redeliver"]) == {"post"}
    assert "EventPage" in spec["components"]["schemas"]


EVENT_QUERY_NAMES = ["type", "payment_id", "created_from", "created_to", "limit", "cursor"]


@FUZZ
@given(
    pairs=st.lists(
        st.tuples(st.one_of(st.sampled_from(EVENT_QUERY_NAMES), odd_text), query_values),
        max_size=6,
    ),
    role=st.sampled_from(list(Role)),
)
async def test_list_with_arbitrary_query(
    client: httpx.AsyncClient, portal: Portal, pairs: list[tuple[str, str]], role: Role
) -> None:
    check(await client.get(f"/v1/events?{encode_query(pairs)}", headers=portal.auth(role)))


@FUZZ
@given(
    event_id=st.one_of(odd_text.filter(bool), st.just("evt_" + "0" * 26), st.text(min_size=65)),
    action=st.sampled_from(["read", "deliveries", "redeliver"]),
    role=st.sampled_from(list(Role)),
    body=st.binary(max_size=100),
)
async def test_event_routes_with_arbitrary_ids(
    client: httpx.AsyncClient, portal: Portal, event_id: str, action: str, role: Role, body: bytes
) -> None:
    url = f"/v1/events/{quote_id(event_id, keep_slashes=False)}"
    if action == "read":
        answer = await client.get(url, headers=portal.auth(role))
    elif action == "deliveries":
        answer = await client.get(f"{url}/deliveries", headers=portal.auth(role))
    else:
        answer = await client.post(f"{url}/redeliver", content=body, headers=portal.auth(role))
    check(answer)
    # No such event for anyone; an id decoding to "/" ends in Starlette's slash redirect.
    assert answer.status_code in (307, 403, 404)
