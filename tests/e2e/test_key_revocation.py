"""A revoked key stops working at once in every web process.

On PostgreSQL the web app caches keys, and clears its cache when the revoking transaction's
notification arrives: here the key is revoked by another process's means (the CLI on a
thread of its own, another engine's unit of work) while the app holds it in its cache. While
the app's listener is down, the cache is bypassed; it connects again by itself. On SQLite no
signal crosses processes, and the cache is never used.

Waits are on the cache's own counters (``KeyCache.until``), bounded generously; nothing here
sleeps and hopes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from sqlalchemy import update

from payments.adapters.db import key_revocations, tables
from payments.domain.access import Role, hash_api_key
from payments.http.container import Container, KeyCache
from payments.services.access import KeyChange, rotate_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, api_app
from tests.support.cli_thread import run_cli
from tests.support.databases import POSTGRES_ADMIN_URL

BOUND = 30  # seconds: far beyond what a notification or a reconnection takes


async def until(cache: KeyCache, condition: Callable[[KeyCache], bool]) -> None:
    await asyncio.wait_for(cache.until(condition), timeout=BOUND)


def cached(container: Container, key: str) -> bool:
    return container.keys.get(hash_api_key(key), time.monotonic_ns()) is not None


async def status(client: httpx.AsyncClient, key: str) -> int:
    return (
        await client.get("/v1/payments", headers={"Authorization": f"Bearer {key}"})
    ).status_code


async def id_of(uow_factory: SqlUnitOfWorkFactory, key: str) -> int:
    async with uow_factory() as uow:
        found = await uow.api_keys.by_hash(hash_api_key(key))
    assert found is not None
    return found[0].id


async def revoke_by_hand(uow_factory: SqlUnitOfWorkFactory, key_id: int) -> None:
    """Plain SQL, as an operator at psql might: no notification is sent."""
    async with uow_factory.engine.begin() as conn:
        await conn.execute(
            update(tables.api_keys)
            .where(tables.api_keys.c.id == key_id)
            .values(revoked_at=datetime.now(UTC))
        )


async def cut_listener(database_url: str) -> None:
    """End the app's listening session from the server side, as a failover would."""
    database = database_url.rpartition("/")[2]
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        ended = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name = $2",
            database,
            key_revocations.APPLICATION_NAME,
        )
    finally:
        await conn.close()
    assert [row[0] for row in ended] == [True]


@pytest.mark.postgres_only
async def test_a_key_revoked_by_another_process_is_refused_once_its_notice_arrives(
    database_url: str, portal: Portal
) -> None:
    key = portal.keys[Role.PORTAL]
    async with api_app(database_url) as (client, container):
        await until(container.keys, lambda c: c.trusted)
        assert await status(client, key) == 200
        assert cached(container, key)  # from now on the app would not ask the database

        heard = container.keys.heard
        revoked = await asyncio.to_thread(
            run_cli,
            "apikey",
            "revoke",
            str(await id_of(SqlUnitOfWorkFactory(container.engine), key)),
            "--database-url",
            database_url,
        )
        assert revoked.exit_code == 0, revoked.output
        await until(container.keys, lambda c: c.heard > heard)
        assert not cached(container, key)
        assert await status(client, key) == 401


@pytest.mark.postgres_only
async def test_a_rotation_in_another_unit_of_work_reaches_the_app(
    database_url: str, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    old = portal.keys[Role.FINANCE]
    async with api_app(database_url) as (client, container):
        await until(container.keys, lambda c: c.trusted)
        assert await status(client, old) == 200
        assert cached(container, old)
        heard = container.keys.heard
        rotated = await rotate_api_key(  # uow_factory: an engine of its own, not the app's
            uow_factory,
            await id_of(uow_factory, old),
            KeyChange(actor="test", now=datetime.now(UTC)),
        )
        await until(container.keys, lambda c: c.heard > heard)
        assert await status(client, old) == 401
        assert await status(client, rotated.plain) == 200


@pytest.mark.postgres_only
async def test_while_the_listener_is_down_every_request_reads_its_key(
    database_url: str,
    portal: Portal,
    uow_factory: SqlUnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Lost, the listener stays away for the whole test: only the bypass can refuse the key.
    monkeypatch.setattr(key_revocations, "RETRY_FIRST_MS", 3_600_000)
    key = portal.keys[Role.PORTAL]
    async with api_app(database_url) as (client, container):
        await until(container.keys, lambda c: c.trusted)
        assert await status(client, key) == 200
        assert cached(container, key)

        await cut_listener(database_url)
        await until(container.keys, lambda c: c.outages == 1)
        assert not cached(container, key)  # what was cached may miss a revocation now
        assert await status(client, key) == 200
        assert not cached(container, key)  # and nothing new is kept

        await revoke_by_hand(uow_factory, await id_of(uow_factory, key))  # no notice at all
        assert await status(client, key) == 401
        assert not container.keys.trusted


@pytest.mark.postgres_only
async def test_the_listener_connects_again_by_itself(
    database_url: str, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    key = portal.keys[Role.TREASURY]
    async with api_app(database_url) as (client, container):
        await until(container.keys, lambda c: c.trusted)
        await cut_listener(database_url)
        await until(container.keys, lambda c: c.outages == 1)
        await until(container.keys, lambda c: c.trusted)  # back, after its first retry

        assert await status(client, key) == 200
        assert cached(container, key)
        heard = container.keys.heard
        rotated = await rotate_api_key(
            uow_factory,
            await id_of(uow_factory, key),
            KeyChange(actor="test", now=datetime.now(UTC)),
        )
        await until(container.keys, lambda c: c.heard > heard)
        assert await status(client, key) == 401
        assert await status(client, rotated.plain) == 200


@pytest.mark.sqlite_only
async def test_on_sqlite_the_cache_is_never_used(
    database_url: str, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    key = portal.keys[Role.PORTAL]
    async with api_app(database_url) as (client, container):
        assert await status(client, key) == 200
        assert not container.keys.trusted
        assert not cached(container, key)
        await revoke_by_hand(uow_factory, await id_of(uow_factory, key))
        assert await status(client, key) == 401

        revoked = await asyncio.to_thread(
            run_cli,
            "apikey",
            "revoke",
            str(await id_of(uow_factory, portal.keys[Role.ADMIN])),
            "--database-url",
            database_url,
        )
        assert revoked.exit_code == 0, revoked.output
        assert await status(client, portal.keys[Role.ADMIN]) == 401
