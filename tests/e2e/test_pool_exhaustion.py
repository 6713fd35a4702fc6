"""When every pooled connection is busy, a request waits PAYMENTS_DB_POOL_TIMEOUT, then gets a
503 problem with Retry-After and changes nothing; the request holding the connection still
completes. PostgreSQL only: the SQLite engine keeps SQLAlchemy's own pool for its one writer.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.api import Portal, api_client, payment_body
from tests.support.stored_rows import count_payments

pytestmark = pytest.mark.postgres_only


async def test_a_request_that_finds_no_free_connection_gets_503_and_changes_nothing(
    database_url: str, portal: Portal, engine: AsyncEngine
) -> None:
    async with api_client(database_url, db_pool_size=1, db_pool_timeout=1) as client:
        async with engine.connect() as blocker:
            # The first creation takes the pool's only connection and waits on this lock.
            await blocker.execute(text("LOCK TABLE idempotency_records IN EXCLUSIVE MODE"))
            first = asyncio.create_task(
                client.post(
                    "/v1/payments",
                    json=payment_body(reference="POOL-1"),
                    headers={**portal.auth(), "Idempotency-Key": "pool-1"},
                )
            )
            await _until_waiting_on_lock(engine)
            second = await client.post(
                "/v1/payments",
                json=payment_body(reference="POOL-2"),
                headers={**portal.auth(), "Idempotency-Key": "pool-2"},
            )
            assert second.status_code == 503
            assert second.headers["content-type"] == "application/problem+json"
            assert second.headers["Retry-After"] == "1"
            problem = second.json()
            assert problem["type"].endswith("/unavailable")
            assert "nothing was done" in problem["detail"]
            await blocker.rollback()
        assert (await first).status_code == 201
        # The refused request left no trace: its key is free for the retry.
        retried = await client.post(
            "/v1/payments",
            json=payment_body(reference="POOL-2"),
            headers={**portal.auth(), "Idempotency-Key": "pool-2"},
        )
        assert retried.status_code == 201
        assert retried.headers["Idempotent-Replayed"] == "false"
    assert await count_payments(engine) == 2


async def _until_waiting_on_lock(engine: AsyncEngine) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(200):
        async with engine.connect() as conn:
            if (await conn.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the first request never reached the lock")
