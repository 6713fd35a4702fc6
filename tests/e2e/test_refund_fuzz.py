"""Fuzz the refund endpoints like every other route (see test_fuzz_no_5xx): hostile bodies,
headers, ids and query strings get 4xx problems, never a 5xx. A real paid payment and a real
refund are among the targets, so the requests also reach the services' checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from payments.domain.access import Role
from payments.domain.attempts import Provider
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.fuzz_requests import check, encode_query, header_bytes, quote_id
from tests.support.fuzz_strategies import (
    FEW,
    FUZZ,
    cursor_for,
    idempotency_keys,
    json_bodies,
    json_values,
    odd_text,
    payment_ids,
    query_values,
)
from tests.support.refund_support import ask, paid_payment

REAL_PAYMENT = "<real-payment-id>"  # payment_ids draws this; the test puts the real one in
REAL_REFUND = "<real-refund-id>"


@dataclass(frozen=True)
class Target:
    payment_id: str
    refund_id: str
    keys: dict[Role, str]

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
async def target(uow_factory: SqlUnitOfWorkFactory) -> Target:
    now = datetime.now(UTC)
    # Paid by bank transfer: a refund the fuzzer manages to make is a transfer instruction,
    # so no request leaves the process (the test app's providers point at unreachable hosts).
    paid = await paid_payment(uow_factory, now, amount=5_000_000, provider=Provider.VIETQR)
    asked = await ask(
        uow_factory,
        paid.officer(1),
        paid.payment.id,
        2_000_000,
        now,
    )
    assert asked.refund is not None
    keys = {}
    for role in Role:
        _, plain = await create_api_key(
            uow_factory, agency_code=paid.code, role=role, label=None, actor="t", now=now
        )
        keys[role] = plain
    return Target(paid.payment.id, asked.refund.id, keys)


refund_bodies = st.one_of(
    json_bodies,
    st.fixed_dictionaries(
        {
            "amount": st.one_of(json_values, st.integers()),
            "reason": st.one_of(odd_text, json_values),
        },
        optional={"expected_available": st.one_of(json_values, st.integers())},
    ).map(lambda body: json.dumps(body).encode()),
)
refund_ids = st.one_of(st.just(REAL_REFUND), st.just("rfd_" + "0" * 26), payment_ids)
REFUND_QUERY_NAMES = ["status", "payment_id", "created_from", "created_to", "limit", "cursor"]
refund_query_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(REFUND_QUERY_NAMES), odd_text), query_values), max_size=6
)


def path_id(value: str, real: dict[str, str], keep_slashes: bool) -> str:
    return real.get(value) or quote_id(value, keep_slashes=keep_slashes)


@FUZZ
@given(
    payment_id=payment_ids,
    body=refund_bodies,
    key=idempotency_keys,
    role=st.sampled_from(list(Role)),
)
@example(payment_id=REAL_PAYMENT, body=b'{"amount": 1, "reason": "a\\u0000b"}', key="k",
         role=Role.FINANCE)  # fmt: skip
@example(payment_id=REAL_PAYMENT, body=b'{"amount": 10000000000000000, "reason": "x"}', key="k",
         role=Role.FINANCE)  # fmt: skip
@example(payment_id=REAL_PAYMENT, body=b'{"amount": 1000, "reason": "valid"}', key="k-ok",
         role=Role.FINANCE)  # fmt: skip
async def test_create_refund_with_hostile_input(
    client: httpx.AsyncClient,
    target: Target,
    payment_id: str,
    body: bytes,
    key: str | None,
    role: Role,
) -> None:
    real = {REAL_PAYMENT: target.payment_id}
    headers = header_bytes(
        {**target.auth(role), "Idempotency-Key": key, "Content-Type": "application/json"}
    )
    url = f"/v1/payments/{path_id(payment_id, real, False)}/refunds"
    check(await client.post(url, content=body, headers=headers))


@FUZZ
@given(
    refund_id=refund_ids,
    keep_slashes=st.booleans(),
    role=st.sampled_from(list(Role)),
    action=st.sampled_from(["read", "events", "approve", "reject", "confirm", "summary"]),
    body=st.one_of(st.just(b""), json_bodies, st.binary(max_size=100)),
)
@example(refund_id="\x00", keep_slashes=False, role=Role.FINANCE, action="approve", body=b"")
async def test_refund_routes_with_hostile_ids(
    client: httpx.AsyncClient,
    target: Target,
    refund_id: str,
    keep_slashes: bool,
    role: Role,
    action: str,
    body: bytes,
) -> None:
    real = {REAL_REFUND: target.refund_id, REAL_PAYMENT: target.payment_id}
    some_id = path_id(refund_id, real, keep_slashes)
    headers = header_bytes(target.auth(role))
    if action == "read":
        response = await client.get(f"/v1/refunds/{some_id}", headers=headers)
    elif action == "events":
        response = await client.get(f"/v1/refunds/{some_id}/events", headers=headers)
    elif action == "summary":
        response = await client.get(f"/v1/payments/{some_id}/refunds", headers=headers)
    else:
        response = await client.post(
            f"/v1/refunds/{some_id}/{action}", content=body, headers=headers
        )
    check(response)


@FUZZ
@given(pairs=refund_query_pairs, role=st.sampled_from(list(Role)), where=st.booleans())
@example(pairs=[("payment_id", "a\x00b")], role=Role.FINANCE, where=True)
@example(pairs=[("cursor", cursor_for("\x00"))], role=Role.FINANCE, where=False)
@example(pairs=[("created_to", "9999-12-31T23:59:59-23:59")], role=Role.FINANCE, where=True)
async def test_refund_lists_with_hostile_queries(
    client: httpx.AsyncClient,
    target: Target,
    pairs: list[tuple[str, str]],
    role: Role,
    where: bool,
) -> None:
    path = "/v1/refunds" if where else "/v1/refunds/candidates"
    check(await client.get(f"{path}?{encode_query(pairs)}", headers=target.auth(role)))


@FEW
@given(status=st.lists(st.sampled_from(["approved", "awaiting_approval", "nope"]), max_size=3))
async def test_listing_by_status_finds_the_real_refund(
    client: httpx.AsyncClient, target: Target, status: list[str]
) -> None:
    query = "&".join(f"status={s}" for s in status)
    answer = await client.get(f"/v1/refunds?{query}", headers=target.auth(Role.FINANCE))
    check(answer)
    if "nope" in status:
        assert answer.status_code == 400
        return
    found: list[dict[str, Any]] = answer.json()["data"]
    expected = not status or "awaiting_approval" in status
    assert [r["id"] for r in found] == ([target.refund_id] if expected else [])
