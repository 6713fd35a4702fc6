"""Fuzz every endpoint with hostile input: the gateway answers 4xx problems, never a 5xx.

Arbitrary JSON (huge numbers, deep nesting, NUL, lone surrogates, RTL marks, emoji), arbitrary
bytes, near-valid payment bodies with one field broken, oversized bodies, wrong content types,
odd header values, odd path ids and query strings. Every answer must be below 500, and every
4xx must be an RFC 9457 problem (``application/problem+json`` with type, title, status, detail).

Runs on SQLite and PostgreSQL (the ``client`` fixture is parametrised). The app is built once per
test; Hypothesis drives the async test body through pytest-asyncio's session loop.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openapi_spec_validator import validate

from payments.domain.access import Role
from payments.entrypoints.app import all_routes
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, payment_body
from tests.support.fuzz_requests import check, chunks, encode_query, header_bytes, quote_id
from tests.support.fuzz_strategies import (
    FEW,
    FUZZ,
    REAL_ID,
    cursor_for,
    datetime_texts,
    encode_json,
    idempotency_keys,
    json_bodies,
    json_values,
    latin1_text,
    odd_text,
    payment_ids,
    query_values,
)

MAX_BODY = 64 * 1024
NOW = datetime.now(UTC)


# --- strategies (the shared ones: tests/support/fuzz_strategies.py) ---------------------------


FIELD_PATHS: list[tuple[str, ...]] = [
    ("reference",),
    ("kind",),
    ("amount",),
    ("currency",),
    ("description",),
    ("payer",),
    ("payer", "name"),
    ("payer", "id_number"),
    ("payer", "tax_code"),
    ("payer", "email"),
    ("payer", "phone"),
    ("budget",),
    ("budget", "treasury_account"),
    ("budget", "treasury_code"),
    ("budget", "collecting_agency"),
    ("budget", "chapter"),
    ("budget", "sub_item"),
    ("budget", "area"),
    ("tax_code",),
    ("declaration_number",),
    ("return_url",),
    ("notify_url",),
    ("expires_at",),
    ("metadata",),
]
ODD_URLS = [
    "https://[::1",
    "https://[portal.example.vn]/x",
    "https://[::1]:443/",
    "https://portal.example.vn:99999/",
    "https://portal.example.vn:abc/",
    "https://user:pw@portal.example.vn/",
    "HTTPS://PORTAL.EXAMPLE.VN./return",
    "https://portal.example.vn\x00.evil/",
    "https://portal.example.vn%2F@evil/",
    "//portal.example.vn/return",
    "javascript:alert(1)",
    "https://xn--80ak6aa92e.com/",
    "https://порт.example/",
]
metadata_values = st.dictionaries(odd_text, st.one_of(odd_text, json_values), max_size=25)
field_values = st.one_of(
    json_values,
    st.sampled_from(ODD_URLS),
    datetime_texts,
    metadata_values,
    st.sampled_from(["fee", "charge", "tax", "customs_duty", "VND", "USD", "XXX", "vnd"]),
    st.integers(-(10**40), 10**40),
)


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid payment body with one thing wrong: a field replaced, dropped or added."""
    body = payment_body()
    path = draw(st.sampled_from(FIELD_PATHS))
    parent: dict[str, Any] = body
    for part in path[:-1]:
        parent = parent[part]
    operation = draw(st.sampled_from(["set", "set", "drop", "add"]))
    if operation == "set":
        parent[path[-1]] = draw(field_values)
    elif operation == "drop":
        parent.pop(path[-1], None)
    else:
        parent[draw(odd_text)] = draw(json_values)
    if draw(st.booleans()):  # sometimes a kind that needs its own field, to go deeper
        body.update(draw(st.sampled_from(KIND_EXTRAS)))
    return body


KIND_EXTRAS: list[dict[str, Any]] = [
    {},
    {"kind": "tax", "tax_code": "0101234567"},
    {"kind": "tax", "tax_code": "0101234567-001"},
    {"kind": "customs_duty", "declaration_number": "101234567890"},
    {"expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    {"notify_url": "https://portal.example.vn/notify"},
    {"metadata": {"dossier": "HS-1", "note": "Nguyễn 😀"}},
]

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/JSON",
    "application/problem+json",
    "application/merge-patch+json",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/octet-stream",
    "",
    ";",
    "application/json\t;;;",
]
content_types = st.one_of(st.none(), st.sampled_from(CONTENT_TYPES), latin1_text)
request_ids = st.one_of(st.none(), latin1_text, st.just("r" * 64), st.just("r" * 65))


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
async def real_payment_id(client: httpx.AsyncClient, portal: Portal) -> str:
    created = await client.post(
        "/v1/payments",
        json=payment_body(),
        headers={**portal.auth(), "Idempotency-Key": f"seed-{uuid.uuid4()}"},
    )
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["id"]
    return payment_id


def authorisation(portal: Portal) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.sampled_from([f"Bearer {portal.keys[role]}" for role in Role]),
        st.sampled_from(
            [
                "Bearer",
                "Bearer ",
                "bearer    ",
                "Basic dXNlcjpwYXNz",
                f"Bearer {portal.keys[Role.PORTAL]}x",
                f"Bearer  {portal.keys[Role.PORTAL]}  ",
                f"BEARER {portal.keys[Role.PORTAL]}",
            ]
        ),
        latin1_text.map(lambda text: "Bearer " + text),
        latin1_text,
    )


# --- POST /v1/payments ------------------------------------------------------------------------


@FUZZ
@given(body=json_bodies, content_type=st.sampled_from(["application/json", None]))
async def test_create_with_arbitrary_json(
    client: httpx.AsyncClient, portal: Portal, body: bytes, content_type: str | None
) -> None:
    headers = {**portal.auth(), "Idempotency-Key": str(uuid.uuid4())}
    if content_type:
        headers["Content-Type"] = content_type
    check(await client.post("/v1/payments", content=body, headers=headers))


@FUZZ
@given(body=near_valid_bodies(), style=st.sampled_from(["ascii", "raw-surrogates"]))
@example(body=payment_body(return_url="https://[::1"), style="ascii")
@example(body=payment_body(notify_url="https://[portal.example.vn]/x"), style="ascii")
@example(body=payment_body(expires_at="0001-01-01T00:00:00+14:00"), style="ascii")
@example(body=payment_body(expires_at="9999-12-31T23:59:59-23:59"), style="ascii")
async def test_create_with_near_valid_body(
    client: httpx.AsyncClient, portal: Portal, body: dict[str, Any], style: str
) -> None:
    headers = {
        **portal.auth(),
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    check(await client.post("/v1/payments", content=encode_json(body, style), headers=headers))


async def test_content_length_with_non_ascii_digits(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    """Regression: ``"²".isdigit()`` is true but ``int("²")`` raises."""
    headers = {**portal.auth(), "Idempotency-Key": "k-digits", "Content-Length": "\xb2"}
    check(await client.post("/v1/payments", content=b"{}", headers=header_bytes(headers)))


@FUZZ
@given(data=st.data())
async def test_create_with_arbitrary_bytes_and_headers(
    client: httpx.AsyncClient, portal: Portal, data: st.DataObject
) -> None:
    body = data.draw(
        st.one_of(st.binary(max_size=2000), json_bodies, near_valid_bodies().map(json.dumps)),
        label="body",
    )
    headers: dict[str, str | None] = {
        "Authorization": data.draw(authorisation(portal), label="authorization"),
        "Idempotency-Key": data.draw(idempotency_keys, label="idempotency_key"),
        "X-Request-ID": data.draw(request_ids, label="request_id"),
        "Content-Type": data.draw(content_types, label="content_type"),
    }
    if data.draw(st.integers(0, 9), label="lie about length") == 0:
        headers["Content-Length"] = data.draw(
            st.one_of(latin1_text, st.integers(0, 10**30).map(str)), label="content_length"
        )
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    check(await client.post("/v1/payments", content=content, headers=header_bytes(headers)))


@FEW
@given(
    size=st.integers(MAX_BODY + 1, 4 * MAX_BODY),
    shape=st.sampled_from(["json-string", "json-array", "bytes"]),
    streamed=st.booleans(),
)
async def test_create_with_oversized_body(
    client: httpx.AsyncClient, portal: Portal, size: int, shape: str, streamed: bool
) -> None:
    if shape == "json-string":
        payload = json.dumps(payment_body(description="đ" * size)).encode()
    elif shape == "json-array":
        payload = b"[" + b"1," * (size // 2) + b"1]"
    else:
        payload = b"\x00\xff" * (size // 2 + 1)
    headers = {
        **portal.auth(),
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/json",  # said to be JSON: refused for its size alone
    }
    content: bytes | AsyncIterator[bytes] = chunks(payload) if streamed else payload
    response = await client.post("/v1/payments", content=content, headers=headers)
    check(response)
    assert response.status_code == 413


# --- GET /v1/payments -------------------------------------------------------------------------

QUERY_NAMES = ["reference", "status", "kind", "created_from", "created_to", "limit", "cursor"]


query_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), odd_text), query_values), max_size=6
)


@FUZZ
@given(
    pairs=query_pairs,
    raw=st.one_of(st.none(), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E))),
    role=st.sampled_from(list(Role)),
)
@example(pairs=[("reference", "a\x00b")], raw=None, role=Role.PORTAL)
@example(pairs=[("cursor", cursor_for("\x00"))], raw=None, role=Role.PORTAL)
@example(pairs=[("created_from", "0001-01-01T00:00:00+14:00")], raw=None, role=Role.PORTAL)
@example(pairs=[("created_to", "9999-12-31T23:59:59-23:59")], raw=None, role=Role.PORTAL)
async def test_list_with_arbitrary_query(
    client: httpx.AsyncClient,
    portal: Portal,
    pairs: list[tuple[str, str]],
    raw: str | None,
    role: Role,
) -> None:
    query = raw if raw is not None else encode_query(pairs)
    check(await client.get(f"/v1/payments?{query}", headers=portal.auth(role)))


# --- /v1/payments/{id}, /cancel, /events ------------------------------------------------------

cancel_bodies = st.one_of(
    st.just(b""),
    st.just(b"  \n"),
    json_bodies,
    st.binary(max_size=200),
    st.builds(
        lambda reason: json.dumps({"reason": reason}).encode(), st.one_of(odd_text, json_values)
    ),
)


@FUZZ
@given(
    payment_id=payment_ids,
    keep_slashes=st.booleans(),
    role=st.sampled_from(list(Role)),
    action=st.sampled_from(["read", "events", "cancel"]),
    body=cancel_bodies,
    request_id=request_ids,
)
@example(
    payment_id="\x00",
    keep_slashes=False,
    role=Role.PORTAL,
    action="read",
    body=b"",
    request_id=None,
)
@example(
    payment_id="a\x00",
    keep_slashes=False,
    role=Role.PORTAL,
    action="cancel",
    body=b"",
    request_id=None,
)
@example(
    payment_id="\x00",
    keep_slashes=False,
    role=Role.ADMIN,
    action="events",
    body=b"",
    request_id=None,
)
async def test_payment_routes_with_arbitrary_ids(
    client: httpx.AsyncClient,
    portal: Portal,
    real_payment_id: str,
    payment_id: str,
    keep_slashes: bool,
    role: Role,
    action: str,
    body: bytes,
    request_id: str | None,
) -> None:
    path_id = (
        real_payment_id
        if payment_id == REAL_ID
        else quote_id(payment_id, keep_slashes=keep_slashes)
    )
    headers = header_bytes({**portal.auth(role), "X-Request-ID": request_id})
    url = f"/v1/payments/{path_id}"
    if action == "read":
        response = await client.get(url, headers=headers)
    elif action == "events":
        response = await client.get(f"{url}/events", headers=headers)
    else:
        response = await client.post(f"{url}/cancel", content=body, headers=headers)
    check(response)


# --- /v1/reconciliation/statements ------------------------------------------------------------

STATEMENT_TRICKS = [
    b"booking_date,amount\n2025-03-12," + b"1" * 200_000 + b"\n",  # beyond csv's field limit
    b'"unterminated\n',
    b"booking_date,amount\n2025-03-12,1\x00\n",
    b"booking_date,amount\n2025-03-12,1\n",  # a good one: imported once, then repeated
    b"booking_date,amount,currency\n2025-03-12,1,EUR\n",
    b"\xef\xbb\xbfbooking_date;amount\n12/03/2025;1,5\n",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    b"<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy='VND'>1e9</Amt></Ntry></Stmt>",
    b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'/>",
    b"vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\nx,1,150,0,20250312\n",
    b"orderId,transId,amount,fee,settlementDate\n" + b",".join([b"a" * 300_000] * 5) + b"\n",
    b"\xff\xfe\x00",
    b"\r\r\r\n\n",
]
csv_texts = st.lists(
    st.lists(odd_text, min_size=1, max_size=6).map(",".join), min_size=1, max_size=8
).map(lambda rows: "\n".join(rows).encode("utf-8", "surrogatepass"))
statement_bodies = st.one_of(st.binary(max_size=2000), st.sampled_from(STATEMENT_TRICKS), csv_texts)
statement_values = st.one_of(
    st.sampled_from(
        [
            *("2025-03-12", "0001-01-01", "9999-12-31", "2025-02-30"),
            *("treasury", "vnpay", "momo", "vietqr", "csv", "camt", "CSV", "camt.053", "0"),
        ]
    ),
    query_values,
)
statement_pairs = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(["business_date", "source", "format", "limit", "cursor"]), odd_text
        ),
        statement_values,
    ),
    max_size=5,
)
STATEMENT_TYPES = ["text/csv", "application/xml", "text/xml", "application/octet-stream"]


@FUZZ
@given(
    pairs=statement_pairs,
    valid_query=st.booleans(),
    body=statement_bodies,
    content_type=st.one_of(st.sampled_from(STATEMENT_TYPES), content_types),
    role=st.sampled_from([Role.TREASURY, Role.ADMIN, Role.PORTAL]),
    action=st.sampled_from(["upload", "upload", "upload", "list", "read"]),
    some_id=st.one_of(st.sampled_from(["1", "2", "0", "-1", "9" * 30, "١"]), odd_text),
)
@example(
    pairs=[],
    valid_query=True,
    body=STATEMENT_TRICKS[1],
    content_type="text/csv",
    role=Role.TREASURY,
    action="upload",
    some_id="1",
)
@example(
    pairs=[("source", "momo")],
    valid_query=True,
    body=STATEMENT_TRICKS[11],
    content_type="text/csv",
    role=Role.TREASURY,
    action="upload",
    some_id="1",
)
async def test_statement_uploads_and_reads(
    client: httpx.AsyncClient,
    portal: Portal,
    pairs: list[tuple[str, str]],
    valid_query: bool,
    body: bytes,
    content_type: str | None,
    role: Role,
    action: str,
    some_id: str,
) -> None:
    base = [("business_date", "2025-03-12"), ("source", "treasury")] if valid_query else []
    query = encode_query([*base, *pairs])
    headers = header_bytes({**portal.auth(role), "Content-Type": content_type})
    url = "/v1/reconciliation/statements"
    if action == "upload":
        response = await client.post(f"{url}?{query}", content=body, headers=headers)
    elif action == "list":
        response = await client.get(f"{url}?{query}", headers=headers)
    else:
        path_id = quote_id(some_id, keep_slashes=False)
        response = await client.get(f"{url}/{path_id}", headers=headers)
    check(response)


# --- /v1/api-keys ------------------------------------------------------------------------------

OWN_KEY = "<own-key-id>"  # replaced in the test body by the id of the key making the request
OTHER_KEY = "<other-key-id>"  # and by another live key of the same agency
key_fields = st.fixed_dictionaries(
    {},
    optional={
        "role": st.one_of(st.sampled_from([r.value for r in Role]), odd_text, json_values),
        "label": st.one_of(odd_text, json_values),
        "rate_limit_per_minute": st.one_of(st.integers(-(10**12), 10**12), json_values),
        "note": st.one_of(odd_text, json_values, st.just("n" * 501)),
        "confirm_self": st.one_of(st.booleans(), json_values),
    },
)
# Fields as they should be, so that requests often get as far as the database.
good_key_fields = st.fixed_dictionaries(
    {"role": st.sampled_from([r.value for r in Role])},
    optional={
        "label": st.sampled_from(["Lan", "Nguyễn Thị Lan", "x" * 200]),
        "rate_limit_per_minute": st.integers(0, 10**6),
    },
) | st.fixed_dictionaries(
    {},
    optional={"note": st.sampled_from(["rotated", "n" * 500]), "confirm_self": st.booleans()},
)
# The fields, sometimes with a stranger among them.
key_objects = st.builds(
    lambda fields, extra: {**extra, **fields},
    key_fields,
    st.dictionaries(odd_text, json_values, max_size=2) | st.just({}),
)
key_json = st.builds(
    encode_json, key_objects | good_key_fields, st.sampled_from(["ascii", "raw-surrogates"])
)
# Mostly the fields, odd or not, so that requests get past the parser often.
key_bodies = st.one_of(
    key_json, key_json, key_json, st.just(b""), json_bodies, st.binary(max_size=200)
)
key_path_ids = st.one_of(
    st.sampled_from([OWN_KEY, OTHER_KEY, OTHER_KEY]),
    st.sampled_from(["1", "2", "0", "-1", "01", "2147483647", "2147483648", "9" * 30, "١"]),
    odd_text.filter(bool),
)
key_query_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(["limit", "cursor"]), odd_text), query_values), max_size=4
)


@FUZZ
@given(
    action=st.sampled_from(["list", "create", "read", "revoke", "rotate"]),
    # Mostly an administrator sending JSON, so that many requests get past the edge.
    role=st.sampled_from([Role.ADMIN] * 3 + [Role.PORTAL, Role.FINANCE, Role.TREASURY]),
    key_id=key_path_ids,
    body=key_bodies,
    content_type=st.sampled_from(["application/json"] * 3 + [""]).flatmap(
        lambda plain: st.just(plain) if plain else st.one_of(st.none(), content_types)
    ),
    pairs=key_query_pairs,
)
@example(
    action="list",
    role=Role.ADMIN,
    key_id="1",
    body=b"",
    content_type=None,
    pairs=[("cursor", cursor_for("2147483648"))],
)
@example(
    action="revoke",
    role=Role.ADMIN,
    key_id="2147483648",
    body=b"",
    content_type=None,
    pairs=[],
)
@example(
    action="create",
    role=Role.ADMIN,
    key_id="1",
    body=b'{"role": "portal", "rate_limit_per_minute": 99999999999}',
    content_type="application/json",
    pairs=[],
)
@example(
    action="rotate",
    role=Role.ADMIN,
    key_id=OWN_KEY,
    body=b'{"confirm_self": true, "note": "yearly"}',
    content_type="application/json",
    pairs=[],
)
@example(
    action="revoke",
    role=Role.ADMIN,
    key_id=OTHER_KEY,
    body=b"",
    content_type=None,
    pairs=[],
)
@example(
    action="create",
    role=Role.ADMIN,
    key_id=OWN_KEY,
    body='{"role": "finance", "label": "Nguyễn Thị Lan"}'.encode(),
    content_type="application/json",
    pairs=[],
)
async def test_api_key_routes_with_arbitrary_input(
    client: httpx.AsyncClient,
    portal: Portal,
    uow_factory: SqlUnitOfWorkFactory,
    action: str,
    role: Role,
    key_id: str,
    body: bytes,
    content_type: str | None,
    pairs: list[tuple[str, str]],
) -> None:
    # Keys of its own for each example: one may revoke or rotate the key it is made with.
    made, plain = await create_api_key(
        uow_factory, agency_code=portal.code, role=role, label=None, actor="fuzz", now=NOW
    )
    other, _ = await create_api_key(
        uow_factory, agency_code=portal.code, role=Role.PORTAL, label=None, actor="fuzz", now=NOW
    )
    ids = {OWN_KEY: str(made.id), OTHER_KEY: str(other.id)}
    path_id = ids.get(key_id) or quote_id(key_id, keep_slashes=False)
    headers = header_bytes({"Authorization": f"Bearer {plain}", "Content-Type": content_type})
    if action == "list":
        response = await client.get(f"/v1/api-keys?{encode_query(pairs)}", headers=headers)
    elif action == "create":
        response = await client.post("/v1/api-keys", content=body, headers=headers)
    elif action == "read":
        response = await client.get(f"/v1/api-keys/{path_id}", headers=headers)
    else:
        response = await client.post(
            f"/v1/api-keys/{path_id}/{action}", content=body, headers=headers
        )
    check(response)


# --- /openapi.json, /healthz, /readyz ---------------------------------------------------------


@FEW
@given(
    path=st.sampled_from(["/openapi.json", "/healthz", "/readyz"]),
    pairs=query_pairs,
    request_id=request_ids,
    authorization=st.one_of(st.none(), latin1_text),
)
async def test_operational_routes(
    client: httpx.AsyncClient,
    path: str,
    pairs: list[tuple[str, str]],
    request_id: str | None,
    authorization: str | None,
) -> None:
    headers = header_bytes({"X-Request-ID": request_id, "Authorization": authorization})
    response = await client.get(f"{path}?{encode_query(pairs)}", headers=headers)
    check(response)
    assert response.status_code == 200, response.text


# --- the published contract -------------------------------------------------------------------


async def test_openapi_is_a_valid_openapi_3_1_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises OpenAPIValidationError with the offending path


async def test_every_route_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    missing = []
    for route in all_routes():
        # OpenAPI names a path parameter without Starlette's converter: {code:path} -> {code}.
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", getattr(route, "path", ""))
        methods: set[str] = getattr(route, "methods", None) or set()
        if path == "/openapi.json":
            continue
        for method in methods - {"HEAD"}:
            if (path, method) not in documented:
                missing.append(f"{method} {path}")
    assert not missing, f"routes missing from /openapi.json: {missing}"
