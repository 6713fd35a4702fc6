"""GET /v1/audit-log over HTTP: administrators read the trail newest first, filter it by actor,
action, object and time, and page through it without gaps or overlaps; other roles are
refused, a bad query answers 422. Console sign-ins (refused ones too) and sign-outs are in it,
never the key itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import update

from payments.adapters.db import tables
from payments.domain.access import Role, display_prefix, new_api_key
from payments.domain.events import AuditEntry
from payments.http.requests import encode_cursor
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import BASE_URL, Portal, api_client, make_portal, payment_body
from tests.support.console_pages import first_open_item, signed_in, token_of
from tests.support.console_uploads import make_day, upload
from tests.support.fuzz_requests import check, encode_query
from tests.support.fuzz_strategies import FEW, query_values
from tests.support.reconcile_days import csv_line, statement

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
START = NOW - timedelta(minutes=30)  # the seeded rows: one a minute from here
SEEDED = 30
ACTIONS = ("refund.approved", "refund.rejected", "reconcile.item_resolved")
ICT = timezone(timedelta(hours=7))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, clock=Clock()) as http:
        yield http


@pytest.fixture
async def gateway(uow_factory: SqlUnitOfWorkFactory) -> Portal:
    """An agency (its creation and its keys' are audited a day before NOW) and SEEDED rows
    a minute apart: actions cycling through ACTIONS, actors apikey:901 and apikey:902."""
    portal = await make_portal(uow_factory, NOW - timedelta(days=1))
    async with uow_factory() as uow:
        for n in range(SEEDED):
            action = ACTIONS[n % 3]
            await uow.audit.record(
                AuditEntry(
                    action=action,
                    actor=f"apikey:{901 + n % 2}",
                    occurred_at=START + timedelta(minutes=n),
                    target_type=action.split(".")[0].replace("reconcile", "reconcile_item"),
                    target_id=f"t{n}",
                    detail={"n": n},
                )
            )
        await uow.commit()
    return portal


async def read(
    api: httpx.AsyncClient, portal: Portal, query: str = "", role: Role = Role.ADMIN
) -> dict[str, Any]:
    answer = await api.get(f"/v1/audit-log?{query}", headers=portal.auth(role))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def seeded(api: httpx.AsyncClient, portal: Portal, query: str) -> list[int]:
    """The seeded rows' numbers a filter returns (all of them: one page), newest first."""
    body = await read(api, portal, f"limit=200&{query}")
    assert body["has_more"] is False
    return [row["detail"]["n"] for row in body["data"]]


async def test_admin_reads_the_trail_newest_first(api: httpx.AsyncClient, gateway: Portal) -> None:
    created = await api.post(
        "/v1/payments",
        json=payment_body(),
        headers={**gateway.auth(Role.PORTAL), "Idempotency-Key": "audit-1"},
    )
    assert created.status_code == 201, created.text

    body = await read(api, gateway, "limit=200")
    rows = body["data"]
    assert (body["has_more"], body["next_cursor"]) == (False, None)
    assert len(rows) == 1 + SEEDED + 1 + len(Role)  # the payment, seeded, agency and keys
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids, reverse=True)
    payment = rows[0]
    assert payment["action"] == "payment.created"
    assert payment["target_id"] == created.json()["id"]
    assert payment["agency"] == gateway.code
    assert payment["actor"].startswith("apikey:")
    assert payment["occurred_at"] == "2026-11-22T02:00:00Z"
    assert rows[1] == {
        "id": rows[1]["id"],
        "object": "audit_entry",
        "occurred_at": "2026-11-22T01:59:00Z",
        "actor": "apikey:902",
        "agency": None,
        "action": "reconcile.item_resolved",
        "target_type": "reconcile_item",
        "target_id": "t29",
        "detail": {"n": 29},
        "request_id": None,
    }
    assert rows[-1] | {"id": 0, "detail": {}} == {
        "id": 0,
        "object": "audit_entry",
        "occurred_at": "2026-11-21T02:00:00Z",
        "actor": "test",
        "agency": gateway.code,
        "action": "agency.created",
        "target_type": "agency",
        "target_id": gateway.code,
        "detail": {},
        "request_id": None,
    }


async def test_only_administrators_read_it(api: httpx.AsyncClient, gateway: Portal) -> None:
    for role in (Role.PORTAL, Role.FINANCE, Role.TREASURY):
        refused = await api.get("/v1/audit-log", headers=gateway.auth(role))
        assert refused.status_code == 403, (role, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "data" not in refused.json()
    # The role is checked before the query: a refused key learns nothing from a bad one.
    bad = await api.get("/v1/audit-log?limit=0", headers=gateway.auth(Role.FINANCE))
    assert bad.status_code == 403
    anonymous = await api.get("/v1/audit-log")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_filters_by_actor_action_object_and_time(
    api: httpx.AsyncClient, gateway: Portal
) -> None:
    every = list(range(SEEDED - 1, -1, -1))
    assert await seeded(api, gateway, "actor=apikey:901") == [n for n in every if n % 2 == 0]
    assert await seeded(api, gateway, "action=refund.approved") == [n for n in every if n % 3 == 0]
    assert await seeded(api, gateway, "action_prefix=refund.") == [n for n in every if n % 3 < 2]
    assert await seeded(api, gateway, "action_prefix=reconcile.") == [
        n for n in every if n % 3 == 2
    ]
    assert await seeded(api, gateway, "action=refund") == []  # exact, not a prefix
    # LIKE wildcards are plain characters: "_" does not stand for the "."
    assert await seeded(api, gateway, "action_prefix=refund_") == []
    assert await seeded(api, gateway, f"action_prefix={quote('%')}") == []
    assert await seeded(api, gateway, "target_type=refund&target_id=t3") == [3]
    assert await seeded(api, gateway, "target_id=t4") == [4]
    assert await seeded(api, gateway, "target_type=reconcile_item") == [
        n for n in every if n % 3 == 2
    ]
    assert await seeded(api, gateway, "actor=apikey:902&action=refund.approved") == [
        n for n in every if n % 6 == 3
    ]
    # A half-open window, given in Vietnam time; rows are shown in UTC.
    start = quote((START + timedelta(minutes=10)).astimezone(ICT).isoformat())
    end = quote((START + timedelta(minutes=20)).isoformat())
    window = await read(api, gateway, f"occurred_from={start}&occurred_to={end}")
    assert [row["detail"]["n"] for row in window["data"]] == list(range(19, 9, -1))
    assert window["data"][0]["occurred_at"] == "2026-11-22T01:49:00Z"
    assert await seeded(api, gateway, f"occurred_from={start}&actor=apikey:901") == [
        n for n in every if n >= 10 and n % 2 == 0
    ]
    before = await read(api, gateway, f"occurred_to={quote(START.isoformat())}&limit=200")
    assert {row["action"] for row in before["data"]} == {"agency.created", "apikey.created"}
    nothing = await read(api, gateway, "actor=nobody")
    assert nothing == {"data": [], "has_more": False, "next_cursor": None}


async def walk(api: httpx.AsyncClient, portal: Portal, query: str, limit: int) -> list[int]:
    """Every id, page after page; each page but the last is full."""
    ids: list[int] = []
    cursor = ""
    while True:
        body = await read(api, portal, f"limit={limit}&{query}{cursor}")
        page = [row["id"] for row in body["data"]]
        ids += page
        if not body["has_more"]:
            assert body["next_cursor"] is None
            assert 0 < len(page) <= limit or not ids
            return ids
        assert len(page) == limit
        cursor = f"&cursor={body['next_cursor']}"


async def test_pages_are_complete_and_never_overlap(
    api: httpx.AsyncClient, gateway: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    everything = [row["id"] for row in (await read(api, gateway, "limit=200"))["data"]]
    assert len(everything) == SEEDED + 1 + len(Role)
    for limit in (1, 7, len(everything), 200):
        assert await walk(api, gateway, "", limit) == everything
    one_actor = [row["id"] for row in (await read(api, gateway, "actor=apikey:902"))["data"]]
    assert await walk(api, gateway, "actor=apikey:902", 4) == one_actor
    assert len(one_actor) == SEEDED // 2

    # Rows appended while a reader pages back go on top: the pages still hold exactly the
    # rows that were there, each once.
    first = await read(api, gateway, "limit=10")
    async with uow_factory() as uow:
        await uow.audit.record(AuditEntry(action="late.row", actor="worker", occurred_at=NOW))
        await uow.commit()
    rest = await walk(api, gateway, f"cursor={first['next_cursor']}", 10)
    assert [row["id"] for row in first["data"]] + rest == everything
    assert (await read(api, gateway, "limit=1"))["data"][0]["action"] == "late.row"


BAD_QUERIES = [
    ("occurred_from=2026-11-22T09:00:00", {"occurred_from"}),  # no offset
    ("occurred_from=yesterday", {"occurred_from"}),
    ("occurred_to=0001-01-01T00:00:00%2B14:00", {"occurred_to"}),  # before year 1 in UTC
    (
        "occurred_from=2026-11-22T09:00:00%2B07:00&occurred_to=2026-11-22T02:00:00Z",
        {"occurred_to"},  # the same instant: an empty window
    ),
    ("limit=0", {"limit"}),
    ("limit=201", {"limit"}),
    ("limit=ten", {"limit"}),
    ("cursor=not-a-cursor", {"cursor"}),
    (f"cursor={encode_cursor('abc')}", {"cursor"}),
    ("from=2026-11-22T09:00:00Z", {"from"}),  # the names are occurred_from / occurred_to
    ("actor=", {"actor"}),
    ("actor=a%00b", {"actor"}),
    (f"action={'a' * 65}", {"action"}),
    ("target_id=%1B%5B31m", {"target_id"}),
    ("occurred_from=2026-11-22T09:00:00&limit=0&actor=", {"occurred_from", "limit", "actor"}),
]


@pytest.mark.parametrize(("query", "fields"), BAD_QUERIES)
async def test_a_bad_query_answers_422_naming_every_problem(
    api: httpx.AsyncClient, gateway: Portal, query: str, fields: set[str]
) -> None:
    answer = await api.get(f"/v1/audit-log?{query}", headers=gateway.auth(Role.ADMIN))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422
    assert problem["type"].endswith("/invalid-query")
    assert {error["field"] for error in problem["errors"]} == fields


AUDIT_QUERY_NAMES = [
    "actor",
    "action",
    "action_prefix",
    "target_type",
    "target_id",
    "occurred_from",
    "occurred_to",
    "limit",
    "cursor",
]


@FEW
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(AUDIT_QUERY_NAMES), query_values), min_size=1, max_size=5
    )
)
@example(pairs=[("action_prefix", "a\x00")])
@example(pairs=[("cursor", encode_cursor("9" * 18))])
@example(pairs=[("occurred_from", "9999-12-31T23:59:59-23:59")])
async def test_no_query_makes_it_fail(
    api: httpx.AsyncClient, gateway: Portal, pairs: list[tuple[str, str]]
) -> None:
    answer = await api.get(f"/v1/audit-log?{encode_query(pairs)}", headers=gateway.auth(Role.ADMIN))
    check(answer)
    assert answer.status_code in (200, 422), answer.text


async def test_it_is_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/audit-log"]["get"]
    assert operation["description"] == "Roles: admin"
    names = {p["name"] for p in operation["parameters"]}
    assert names == set(AUDIT_QUERY_NAMES)
    assert {"200", "401", "403", "422"} <= operation["responses"].keys()


# --- console sign-ins -------------------------------------------------------------------------


async def test_console_sign_ins_and_sign_outs_are_audited_never_the_key(
    api: httpx.AsyncClient, gateway: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async def key(role: Role) -> tuple[int, str]:
        made, plain = await create_api_key(
            uow_factory, agency_code=gateway.code, role=role, label="Lan", actor="t", now=NOW
        )
        return made.id, plain

    (staff_id, staff_key), (portal_id, portal_key), (gone_id, gone_key) = [
        await key(role) for role in (Role.TREASURY, Role.PORTAL, Role.ADMIN)
    ]
    async with uow_factory.engine.begin() as conn:
        await conn.execute(
            update(tables.api_keys).where(tables.api_keys.c.id == gone_id).values(revoked_at=NOW)
        )
    unknown_key = new_api_key()  # shaped like ours, but not one
    password = "hunter2-my-own-password"
    answers = [
        await signed_in(api, unknown_key),
        await signed_in(api, password),
        await signed_in(api, ""),
        await signed_in(api, portal_key),
        await signed_in(api, gone_key),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 403, 401]
    welcome = await signed_in(api, staff_key)
    assert welcome.status_code == 303
    runs = await api.get("/console/runs")
    out = await api.post("/console/sign-out", data={"csrf_token": token_of(runs)})
    assert out.status_code == 303
    again = await api.get("/console/sign-in")
    assert (
        await api.post("/console/sign-out", data={"csrf_token": token_of(again)})
    ).status_code == 303

    answer = await api.get("/v1/audit-log?action_prefix=console.", headers=gateway.auth(Role.ADMIN))
    assert answer.status_code == 200
    for secret in (unknown_key, password, portal_key, gone_key, staff_key):
        assert secret not in answer.text
    rows = answer.json()["data"][::-1]  # oldest first
    for row in rows:
        assert isinstance(row["detail"].pop("client"), str)  # where it came from
        assert row["request_id"]
    seen = [
        (row["action"], row["actor"], row["agency"], row["target_id"], row["detail"])
        for row in rows
    ]
    refused = "console.sign_in_refused"
    assert seen == [
        (
            refused,
            "anonymous",
            None,
            None,
            {"reason": "unknown_key", "key_prefix": display_prefix(unknown_key)},
        ),
        (refused, "anonymous", None, None, {"reason": "unknown_key"}),  # not a key's shape
        (refused, "anonymous", None, None, {"reason": "no_key"}),
        (
            refused,
            f"apikey:{portal_id}",
            gateway.code,
            str(portal_id),
            {"reason": "wrong_role", "role": "portal", "key_prefix": display_prefix(portal_key)},
        ),
        (
            refused,
            f"apikey:{gone_id}",
            gateway.code,
            str(gone_id),
            {"reason": "revoked_key", "role": "admin", "key_prefix": display_prefix(gone_key)},
        ),
        (
            "console.signed_in",
            f"apikey:{staff_id}",
            gateway.code,
            str(staff_id),
            {"role": "treasury", "key_prefix": display_prefix(staff_key)},
        ),
        # Signing out twice: only the live session's end is recorded.
        ("console.signed_out", f"apikey:{staff_id}", gateway.code, str(staff_id), {}),
    ]
    assert all(row["target_type"] in (None, "api_key") for row in rows)
    assert {row["occurred_at"] for row in rows} == {"2026-11-22T02:00:00Z"}


async def test_staff_actions_in_the_console_are_in_it_as_their_actor(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    day = await make_day(uow_factory)
    _, admin = await create_api_key(
        uow_factory, agency_code="DVC", role=Role.ADMIN, label=None, actor="t", now=NOW
    )
    async with api_client(database_url) as http:
        assert (await signed_in(http, day.key)).status_code == 303
        sent = await upload(http, statement(csv_line(day.paid[0])))
        assert sent.status_code == 303, sent.text
        statement_path = sent.headers["location"].split("?")[0]
        summary = await http.get(sent.headers["location"])
        ran = await http.post(
            statement_path, data={"csrf_token": token_of(summary)}, headers={"Origin": BASE_URL}
        )
        assert ran.status_code == 303, ran.text
        run_id = ran.headers["location"].split("/")[-1].split("?")[0]
        item_id = await first_open_item(http, int(run_id))
        item = await http.get(f"/console/items/{item_id}")
        resolved = await http.post(
            f"/console/items/{item_id}/resolve",
            data={"csrf_token": token_of(item), "note": "Kho bạc xác nhận chậm"},
        )
        assert resolved.status_code == 303, resolved.text

        answer = await http.get(
            f"/v1/audit-log?actor={day.actor}", headers={"Authorization": f"Bearer {admin}"}
        )
    assert answer.status_code == 200, answer.text
    # The day's payments were made by a factory caller that borrows key id 1, the staff key's.
    rows = [row for row in answer.json()["data"][::-1] if row["action"] != "payment.created"]
    assert [(row["action"], row["target_id"]) for row in rows] == [
        ("console.signed_in", str(day.key_id)),
        ("reconcile.statement_imported", statement_path.split("/")[-1]),
        ("reconcile.day_run", run_id),
        ("reconcile.item_resolved", str(item_id)),
    ]
