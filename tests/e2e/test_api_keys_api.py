"""/v1/api-keys over HTTP: an agency's administrators list, create, revoke and rotate its keys;
other agencies' keys are invisible (404), other roles are refused, the key in use is revoked
only when confirmed, and every change is in the audit log. A new key is in its answer once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from payments.domain.access import Role, hash_api_key
from payments.http.requests import encode_cursor
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, make_portal
from tests.support.fuzz_requests import check


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def keys_of(client: httpx.AsyncClient, admin: dict[str, str], **query: Any) -> dict[str, Any]:
    answer = await client.get("/v1/api-keys", params=query, headers=admin)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def key_id(client: httpx.AsyncClient, portal: Portal, role: Role) -> int:
    listed = await keys_of(client, portal.auth(Role.ADMIN))
    return next(int(k["id"]) for k in listed["data"] if k["role"] == role.value)


async def works(client: httpx.AsyncClient, key: str) -> int:
    return (await client.get("/v1/payments", headers=bearer(key))).status_code


async def audit(client: httpx.AsyncClient, admin: dict[str, str], action: str) -> list[Any]:
    answer = await client.get("/v1/audit-log", params={"action": action}, headers=admin)
    assert answer.status_code == 200, answer.text
    rows: list[Any] = answer.json()["data"]
    return rows


async def test_admins_list_their_agencys_keys_in_pages_never_a_key_or_hash(
    client: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    other = await make_portal(uow_factory, datetime.now(UTC))
    admin = portal.auth(Role.ADMIN)
    walked: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await keys_of(client, admin, limit=1, **({"cursor": cursor} if cursor else {}))
        walked += page["data"]
        cursor = page["next_cursor"]
        assert (cursor is not None) == page["has_more"]
        if cursor is None:
            break
    assert [k["role"] for k in walked] == ["admin", "treasury", "finance", "portal"]
    assert [k["id"] for k in walked] == sorted((k["id"] for k in walked), reverse=True)
    assert {k["agency"] for k in walked} == {portal.code}
    first = walked[0]
    assert set(first) == {
        "id",
        "object",
        "agency",
        "role",
        "prefix",
        "label",
        "rate_limit_per_minute",
        "created_at",
        "revoked_at",
    }
    assert (first["object"], first["revoked_at"]) == ("api_key", None)
    text = str(walked)
    for plain in [*portal.keys.values(), *other.keys.values()]:
        assert plain not in text
        assert hash_api_key(plain) not in text
    assert portal.keys[Role.ADMIN].startswith(first["prefix"])

    for role in (Role.PORTAL, Role.FINANCE, Role.TREASURY):
        refused = await client.get("/v1/api-keys", headers=portal.auth(role))
        check(refused)
        assert refused.status_code == 403
    for query in ({"cursor": "nonsense"}, {"cursor": encode_cursor("x1")}, {"limit": "0"}):
        bad = await client.get("/v1/api-keys", params=query, headers=admin)
        check(bad)
        assert bad.status_code == 400


async def test_an_admin_creates_a_key_shown_once_and_audited(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    admin = portal.auth(Role.ADMIN)
    made = await client.post(
        "/v1/api-keys",
        json={"role": "finance", "label": "Nguyễn Thị Lan", "rate_limit_per_minute": 120},
        headers={**admin, "X-Request-ID": "req-create-1"},
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert made.headers["location"] == f"/v1/api-keys/{body['id']}"
    assert (body["role"], body["label"], body["rate_limit_per_minute"]) == (
        "finance",
        "Nguyễn Thị Lan",
        120,
    )
    assert body["key"].startswith(body["prefix"])
    assert body["replaces"] is None
    refund_list = await client.get("/v1/refunds", headers=bearer(body["key"]))
    assert refund_list.status_code == 200  # a finance key of this agency
    read = await client.get(f"/v1/api-keys/{body['id']}", headers=admin)
    assert read.status_code == 200
    assert "key" not in read.json()  # shown once: never again
    assert read.json() == {k: v for k, v in body.items() if k not in ("key", "replaces")}

    rows = await audit(client, admin, "apikey.created")
    row = next(r for r in rows if r["target_id"] == str(body["id"]))
    assert (row["actor"], row["request_id"]) == (
        f"apikey:{await key_id(client, portal, Role.ADMIN)}",
        "req-create-1",
    )
    assert body["key"] not in str(rows)

    for wrong in (
        {"role": "root"},
        {"role": "portal", "extra": 1},
        {"role": "portal", "rate_limit_per_minute": -1},
        {"role": "portal", "rate_limit_per_minute": "5"},
        {"role": "portal", "label": "a\u202eb"},
        {},
    ):
        refused = await client.post("/v1/api-keys", json=wrong, headers=admin)
        check(refused)
        assert refused.status_code == 422, (wrong, refused.text)
    assert len((await keys_of(client, admin))["data"]) == 5  # the four and the one made


async def test_revoking_a_key_stops_it_at_once_and_twice_is_harmless(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    admin = portal.auth(Role.ADMIN)
    portal_id = await key_id(client, portal, Role.PORTAL)
    assert await works(client, portal.keys[Role.PORTAL]) == 200  # known (and maybe cached)
    revoked = await client.post(
        f"/v1/api-keys/{portal_id}/revoke",
        json={"note": "portal server rebuilt"},
        headers={**admin, "X-Request-ID": "req-revoke-1"},
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert await works(client, portal.keys[Role.PORTAL]) == 401
    again = await client.post(f"/v1/api-keys/{portal_id}/revoke", headers=admin)
    assert (again.status_code, again.json()) == (200, revoked.json())

    rows = await audit(client, admin, "apikey.revoked")
    assert len(rows) == 1
    assert rows[0]["target_id"] == str(portal_id)
    assert rows[0]["request_id"] == "req-revoke-1"
    assert rows[0]["detail"]["note"] == "portal server rebuilt"


async def test_the_key_in_use_is_revoked_only_when_the_admin_confirms(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    admin = portal.auth(Role.ADMIN)
    own = await key_id(client, portal, Role.ADMIN)
    for action in ("revoke", "rotate"):
        for body in (None, {"confirm_self": False}):
            refused = await client.post(f"/v1/api-keys/{own}/{action}", json=body, headers=admin)
            check(refused)
            assert refused.status_code == 422, refused.text
            assert [e["field"] for e in refused.json()["errors"]] == ["confirm_self"]
    assert await works(client, portal.keys[Role.ADMIN]) == 200
    done = await client.post(
        f"/v1/api-keys/{own}/revoke", json={"confirm_self": True}, headers=admin
    )
    assert done.status_code == 200, done.text
    assert (await client.get("/v1/api-keys", headers=admin)).status_code == 401


async def test_rotation_gives_a_twin_key_and_revokes_the_old_one(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    admin = portal.auth(Role.ADMIN)
    finance_id = await key_id(client, portal, Role.FINANCE)
    rotated = await client.post(
        f"/v1/api-keys/{finance_id}/rotate", json={"note": "yearly"}, headers=admin
    )
    assert rotated.status_code == 201, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new = rotated.json()
    assert (new["role"], new["replaces"], new["revoked_at"]) == ("finance", finance_id, None)
    assert new["id"] != finance_id
    assert (
        await client.get("/v1/refunds", headers=bearer(portal.keys[Role.FINANCE]))
    ).status_code == 401
    assert (await client.get("/v1/refunds", headers=bearer(new["key"]))).status_code == 200
    old = await client.get(f"/v1/api-keys/{finance_id}", headers=admin)
    assert old.json()["revoked_at"] is not None

    again = await client.post(f"/v1/api-keys/{finance_id}/rotate", headers=admin)
    check(again)
    assert again.status_code == 409  # a revoked key is not brought back by rotating it

    rows = await audit(client, admin, "apikey.rotated")
    assert len(rows) == 1
    assert rows[0]["target_id"] == str(finance_id)
    assert rows[0]["detail"]["new_key_id"] == new["id"]
    assert rows[0]["detail"]["note"] == "yearly"
    assert new["key"] not in str(rows)


async def test_another_agencys_key_answers_404_and_is_left_alone(
    client: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    other = await make_portal(uow_factory, datetime.now(UTC))
    theirs = await key_id(client, other, Role.PORTAL)
    admin = portal.auth(Role.ADMIN)
    for path in (
        f"/v1/api-keys/{theirs}",
        f"/v1/api-keys/{theirs}/revoke",
        f"/v1/api-keys/{theirs}/rotate",
        "/v1/api-keys/99999",
        "/v1/api-keys/99999999999/revoke",
        "/v1/api-keys/-1/rotate",
        "/v1/api-keys/%D9%A1",
    ):
        method = client.get if path.count("/") == 3 else client.post
        answer = await method(path, headers=admin)
        check(answer)
        assert answer.status_code == 404, (path, answer.text)
    assert await works(client, other.keys[Role.PORTAL]) == 200
