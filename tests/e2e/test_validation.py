"""Every validation rule of POST /v1/payments answers 4xx problem+json and stores nothing."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.api import Portal, api_client, make_portal, payment_body, uow_for

_keys = itertools.count()


def budget(**changes: str) -> dict[str, str]:
    base = payment_body()["budget"]
    return {**base, **changes}


# (case id, body changes, offending field, words the message must contain)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("amount zero", {"amount": 0}, "amount", "positive"),
    ("amount negative", {"amount": -5}, "amount", "positive"),
    ("amount over maximum", {"amount": 100_000_000_001}, "amount", "must not exceed"),
    ("amount huge", {"amount": 10**40}, "amount", "must not exceed"),
    ("amount as string", {"amount": "150000"}, "amount", "integer"),
    ("amount as float", {"amount": 150000.0}, "amount", "integer"),
    ("amount as bool", {"amount": True}, "amount", "integer"),
    ("unknown currency", {"currency": "ABC"}, "currency", "ISO 4217"),
    ("currency no provider takes", {"currency": "USD"}, "currency", "accepted currencies: VND"),
    ("lower-case currency", {"currency": "vnd"}, "currency", "pattern"),
    ("unknown kind", {"kind": "donation"}, "kind", "fee"),
    ("tax without tax code", {"kind": "tax"}, "tax_code", "required for kind 'tax'"),
    ("malformed tax code", {"kind": "tax", "tax_code": "12345"}, "tax_code", "10 digits"),
    ("duty without declaration", {"kind": "customs_duty"}, "declaration_number", "required"),
    (
        "malformed declaration",
        {"kind": "customs_duty", "declaration_number": "12AB"},
        "declaration_number",
        "12-digit",
    ),
    ("chapter not 3 digits", {"budget": budget(chapter="75")}, "budget.chapter", "3 digits"),
    ("sub-item not 4 digits", {"budget": budget(sub_item="26a2")}, "budget.sub_item", "4 digits"),
    (
        "treasury account not 4 digits",
        {"budget": budget(treasury_account="71")},
        "budget.treasury_account",
        "4 digits",
    ),
    ("relative return URL", {"return_url": "/back"}, "return_url", "absolute"),
    ("http return URL", {"return_url": "http://portal.example.vn/r"}, "return_url", "https"),
    (
        "return URL on another host",
        {"return_url": "https://evil.example.com/r"},
        "return_url",
        "allowed hosts",
    ),
    (
        "return URL with credentials",
        {"return_url": "https://user:pw@portal.example.vn/r"},
        "return_url",
        "credentials",
    ),
    ("notify URL elsewhere", {"notify_url": "https://x.example/n"}, "notify_url", "allowed"),
    ("missing reference", {"reference": None}, "reference", ""),
    ("empty description", {"description": "  "}, "description", "at least 1"),
    ("NUL in description", {"description": "a\x00b"}, "description", "control character"),
    ("unknown field", {"colour": "blue"}, "colour", "not a known field"),
    ("payer email", {"payer": {"name": "A", "email": "not-an-email"}}, "payer.email", "email"),
    ("payer phone", {"payer": {"name": "A", "phone": "12"}}, "payer.phone", "digits"),
    ("metadata not strings", {"metadata": {"a": 1}}, "metadata.a", "string"),
    ("too much metadata", {"metadata": {f"k{i}": "v" for i in range(21)}}, "metadata", "20"),
    ("zero-width space in reference", {"reference": "HS-\u200b123"}, "reference", "invisible"),
    ("bidi override in description", {"description": "Lệ phí \u202eabc"}, "description", "U+202E"),
    ("word joiner in payer name", {"payer": {"name": "Nguy\u2060ễn"}}, "payer.name", "invisible"),
    (
        "CR LF in return URL",
        {"return_url": "https://portal.example.vn/r\r\nSet-Cookie: a=b"},
        "return_url",
        "control characters",
    ),
    (
        "space in return URL",
        {"return_url": "https://portal.example.vn/a b"},
        "return_url",
        "spaces",
    ),
    (
        "a port the allow-list does not name",
        {"return_url": "https://portal.example.vn:8443/r"},
        "return_url",
        "'portal.example.vn:8443' is not on the agency's allowed hosts",
    ),
    ("expiry in the past", {"expires_at": "2020-01-01T00:00:00+07:00"}, "expires_at", "future"),
    ("expiry without zone", {"expires_at": "2099-01-01T00:00:00"}, "expires_at", "offset"),
]


@pytest.mark.parametrize(
    ("changes", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_rule(
    client: httpx.AsyncClient, portal: Portal, changes: dict[str, Any], field: str, words: str
) -> None:
    body = payment_body(**changes)
    body = {k: v for k, v in body.items() if v is not None}
    answer = await client.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": f"v{next(_keys)}"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    matching = [e for e in problem["errors"] if e["field"] == field]
    assert matching, problem
    assert words.lower() in matching[0]["message"].lower()
    listing = await client.get("/v1/payments", headers=portal.auth())
    assert listing.json()["data"] == []


async def test_every_problem_is_reported_at_once(client: httpx.AsyncClient, portal: Portal) -> None:
    body = payment_body(amount=0, currency="ABC", return_url="ftp://x")
    answer = await client.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": "many"}
    )
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"amount", "currency", "return_url"} <= fields


async def test_valid_kind_specific_payments_are_accepted(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    for i, extra in enumerate(
        [
            {"kind": "tax", "tax_code": "0101234567-001"},
            {"kind": "customs_duty", "declaration_number": "103456789012", "currency": "VND"},
            {"kind": "charge", "expires_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
        ]
    ):
        answer = await client.post(
            "/v1/payments",
            json=payment_body(**extra),
            headers={**portal.auth(), "Idempotency-Key": f"ok{i}"},
        )
        assert answer.status_code == 201, answer.text


async def test_open_reference_conflict_names_the_existing_payment(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    body = payment_body()
    first = await client.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": "r1"}
    )
    again = await client.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": "r2"}
    )
    assert again.status_code == 409
    assert again.json()["existing_payment_id"] == first.json()["id"]
    assert first.json()["id"] in again.json()["detail"]
    # Once the first is cancelled, the dossier may be paid by a new request.
    cancel = await client.post(f"/v1/payments/{first.json()['id']}/cancel", headers=portal.auth())
    assert cancel.status_code == 200
    third = await client.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": "r3"}
    )
    assert third.status_code == 201


async def test_plain_http_return_url_is_fine_in_sandbox(database_url: str, portal: Portal) -> None:
    async with api_client(database_url, sandbox=True) as sandbox:
        answer = await sandbox.post(
            "/v1/payments",
            json=payment_body(return_url="http://portal.example.vn/back"),
            headers={**portal.auth(), "Idempotency-Key": "sb"},
        )
    assert answer.status_code == 201, answer.text


async def test_malformed_bodies(client: httpx.AsyncClient, portal: Portal) -> None:
    headers = {**portal.auth(), "Idempotency-Key": "bad", "Content-Type": "application/json"}
    for raw, status in [
        (b"{", 400),
        (b"", 400),
        (b"[]", 422),
        (b"\xff\xfe", 400),
        (b"{" * 100_000, 413),
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    ]:
        answer = await client.post("/v1/payments", content=raw, headers=headers)
        assert answer.status_code == status, (raw[:20], answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    wrong_type = await client.post(
        "/v1/payments", content=b"a=1", headers={**headers, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415


async def test_a_field_sent_twice_is_refused_not_read_as_the_last(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    """{"amount": 150000, ..., "amount": 1} made a 1 VND payment: the last key won."""
    body = json.dumps(payment_body(amount=150_000))
    twice = body[:-1] + ', "amount": 1}'
    nested = body.replace('"budget": {', '"budget": {"chapter": "999", ', 1)
    headers = {**portal.auth(), "Content-Type": "application/json"}
    for raw, key in [(twice, "amount"), (nested, "chapter")]:
        answer = await client.post(
            "/v1/payments", content=raw, headers={**headers, "Idempotency-Key": f"d{key}"}
        )
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/duplicate-key")
        assert repr(key) in answer.json()["detail"]
    listing = await client.get("/v1/payments", headers=portal.auth())
    assert listing.json()["data"] == []


async def test_a_body_that_does_not_say_it_is_json_is_refused(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    raw = json.dumps(payment_body()).encode()
    for headers in (
        {},
        {"Content-Type": ""},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        answer = await client.post(
            "/v1/payments",
            content=raw,
            headers={**portal.auth(), "Idempotency-Key": f"t{next(_keys)}", **headers},
        )
        assert answer.status_code == 415, (headers, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    listing = await client.get("/v1/payments", headers=portal.auth())
    assert listing.json()["data"] == []
    # An optional body (a cancel reason) may be left out, but when sent it says it is JSON.
    created = await client.post(
        "/v1/payments",
        json=payment_body(),
        headers={**portal.auth(), "Idempotency-Key": f"t{next(_keys)}"},
    )
    url = f"/v1/payments/{created.json()['id']}/cancel"
    untyped = await client.post(url, content=b'{"reason": "x"}', headers=portal.auth())
    assert untyped.status_code == 415, untyped.text
    read = await client.get(f"/v1/payments/{created.json()['id']}", headers=portal.auth())
    assert read.json()["status"] == "created"
    assert (await client.post(url, headers=portal.auth())).status_code == 200


async def test_composed_and_decomposed_references_are_one_reference(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    """NFC: "HS-Đạt" typed on two keyboards (composed, or letters and combining marks) is one
    reference, so the second payment for it is the open-reference conflict."""
    composed = "HS-\u0110\u1ea1t"
    decomposed = "HS-\u0110a\u0323t"
    assert composed != decomposed
    headers = {**portal.auth()}
    first = await client.post(
        "/v1/payments",
        json=payment_body(reference=composed),
        headers={**headers, "Idempotency-Key": f"n{next(_keys)}"},
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        "/v1/payments",
        json=payment_body(reference=decomposed),
        headers={**headers, "Idempotency-Key": f"n{next(_keys)}"},
    )
    assert second.status_code == 409, second.text
    assert first.json()["reference"] == composed


async def test_a_port_the_allow_list_names_is_accepted(database_url: str) -> None:
    async with api_client(database_url) as http:
        uow = uow_for(database_url)
        try:
            listed = await make_portal(
                uow, datetime.now(UTC), hosts=("portal.example.vn", "portal.example.vn:8443")
            )
        finally:
            await uow.engine.dispose()
        for url, status in [
            ("https://portal.example.vn:8443/r", 201),
            ("https://portal.example.vn:443/r", 201),  # the default port is the bare host
            ("https://portal.example.vn:9443/r", 422),
        ]:
            answer = await http.post(
                "/v1/payments",
                json=payment_body(return_url=url),
                headers={**listed.auth(), "Idempotency-Key": f"p{next(_keys)}"},
            )
            assert answer.status_code == status, (url, answer.text)
