"""The lease statement on real databases: atomic across processes, never past the limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables as t
from payments.adapters.db.engine import make_engine
from payments.domain.access import Role, hash_api_key
from payments.domain.rate_limits import granted
from payments.services.rate_limits import purge_rate_limit_windows
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal

WINDOW = datetime(2026, 11, 22, 8, 15, tzinfo=UTC)


async def _key_id(uow_factory: SqlUnitOfWorkFactory, portal: Portal) -> int:
    async with uow_factory() as uow:
        found = await uow.api_keys.by_hash(hash_api_key(portal.keys[Role.PORTAL]))
    assert found is not None
    return found[0].id


async def _lease(
    uow_factory: SqlUnitOfWorkFactory, key_id: int, block: int, limit: int, window: datetime
) -> int | None:
    async with uow_factory() as uow:
        before = await uow.rate_limits.lease(
            api_key_id=key_id, window_start=window, block=block, limit=limit
        )
        await uow.commit()
    return before


async def _counts(engine: AsyncEngine) -> dict[datetime, int]:
    w = t.rate_limit_windows
    async with engine.connect() as conn:
        rows = await conn.execute(select(w.c.window_start, w.c.used))
    return {row.window_start: row.used for row in rows}


async def test_a_lease_adds_its_block_until_the_limit(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    key = await _key_id(uow_factory, portal)
    assert await _lease(uow_factory, key, 4, 10, WINDOW) == 0
    assert await _lease(uow_factory, key, 4, 10, WINDOW) == 4
    assert await _lease(uow_factory, key, 4, 10, WINDOW) == 8  # granted 2: the count passes 10
    assert await _lease(uow_factory, key, 4, 10, WINDOW) is None  # full: nothing added
    assert await _counts(engine) == {WINDOW: 12}
    # The next window starts from nothing.
    assert await _lease(uow_factory, key, 4, 10, WINDOW + timedelta(minutes=1)) == 0


async def test_concurrent_leases_from_two_processes_grant_exactly_the_limit(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    key = await _key_id(uow_factory, portal)
    engines = [make_engine(database_url, pool_size=10) for _ in range(2)]  # two pools
    try:
        factories = [SqlUnitOfWorkFactory(engine) for engine in engines]
        answers = await asyncio.gather(
            *(_lease(factories[n % 2], key, 3, 100, WINDOW) for n in range(60))
        )
        counts = await _counts(engines[0])
    finally:
        for engine in engines:
            await engine.dispose()
    befores = sorted(a for a in answers if a is not None)
    # Each lease saw a different count: they ran one after the other, 3 apart.
    assert befores == list(range(0, 3 * len(befores), 3))
    assert sum(granted(100, 3, before) for before in befores) == 100
    assert counts == {WINDOW: 102}
    assert answers.count(None) == 60 - 34


async def test_purge_keeps_the_current_and_the_previous_window(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    key = await _key_id(uow_factory, portal)
    for minutes in (-5, -2, -1, 0):
        await _lease(uow_factory, key, 1, 10, WINDOW + timedelta(minutes=minutes))
    assert await purge_rate_limit_windows(uow_factory, now=WINDOW + timedelta(seconds=59)) == 2
    assert sorted(await _counts(engine)) == [WINDOW - timedelta(minutes=1), WINDOW]
