"""Idempotency-Key on POST /v1/payments (ARCHITECTURE.md section 3), on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, make_portal, payment_body
from tests.support.stored_rows import count_payments


async def test_same_key_same_body_returns_the_stored_answer(
    client: httpx.AsyncClient, portal: Portal, engine: AsyncEngine
) -> None:
    body = payment_body()
    headers = {**portal.auth(), "Idempotency-Key": "same-1"}
    first = await client.post("/v1/payments", json=body, headers=headers)
    # Key order and spacing differ, the meaning does not: still a replay.
    reordered = dict(reversed(list(body.items())))
    second = await client.post("/v1/payments", json=reordered, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.headers["Idempotent-Replayed"] == "false"
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await count_payments(engine) == 1


async def test_same_key_other_body_is_refused(
    client: httpx.AsyncClient, portal: Portal, engine: AsyncEngine
) -> None:
    headers = {**portal.auth(), "Idempotency-Key": "same-2"}
    first = await client.post("/v1/payments", json=payment_body(), headers=headers)
    assert first.status_code == 201
    other = await client.post("/v1/payments", json=payment_body(amount=1), headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await count_payments(engine) == 1


async def test_twenty_concurrent_requests_with_one_key_make_one_payment(
    client: httpx.AsyncClient, portal: Portal, engine: AsyncEngine
) -> None:
    body = payment_body()
    headers = {**portal.auth(), "Idempotency-Key": "race-1"}
    answers = await asyncio.gather(
        *(client.post("/v1/payments", json=body, headers=headers) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers["Idempotent-Replayed"] == "false" for a in answers) == 1
    assert await count_payments(engine) == 1


async def test_keys_are_scoped_to_the_agency(
    client: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    other = await make_portal(uow_factory, datetime.now(UTC))
    headers = {"Idempotency-Key": "shared-key"}
    mine = await client.post(
        "/v1/payments", json=payment_body(), headers={**headers, **portal.auth()}
    )
    theirs = await client.post(
        "/v1/payments", json=payment_body(), headers={**headers, **other.auth()}
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_missing_key_is_a_clear_400(client: httpx.AsyncClient, portal: Portal) -> None:
    answer = await client.post("/v1/payments", json=payment_body(), headers=portal.auth())
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "Idempotency-Key", "message": "is required"}]


async def test_a_rejected_request_does_not_burn_the_key(
    client: httpx.AsyncClient, portal: Portal, engine: AsyncEngine
) -> None:
    headers = {**portal.auth(), "Idempotency-Key": "fix-and-retry"}
    bad = await client.post("/v1/payments", json=payment_body(amount=0), headers=headers)
    assert bad.status_code == 422
    good = await client.post("/v1/payments", json=payment_body(), headers=headers)
    assert good.status_code == 201
    assert await count_payments(engine) == 1
