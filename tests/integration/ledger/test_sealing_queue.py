"""The sealing queue: every posted entry is queued with it, each seal takes its batch off the
queue, an entry that commits after higher ids were sealed is still sealed, and migration 0010
queues exactly the entries no seal covered yet."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from payments.adapters.db.migrations import alembic_config
from payments.ledger.posting import post_entry, reverse_entry
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.tables import ledger_chain, ledger_unsealed
from payments.ledger.verification import seal_journal, verify_ledger
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.ledger_builders import T0, payment_draft, post_payments


async def _seal(uow_factory: SqlUnitOfWorkFactory, batch: int) -> None:
    async with uow_factory() as uow:
        result = await seal_journal(uow.ledger, now=T0, batch=batch)
        await uow.commit()
    assert result.refused is None


async def _queued(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(ledger_unsealed.c.entry_id).order_by("entry_id"))
        return [int(r.entry_id) for r in rows]


async def _sealed(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(ledger_chain.c.entry_id).order_by("position"))
        return [int(r.entry_id) for r in rows]


async def test_posting_queues_and_sealing_dequeues_in_the_same_transactions(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    ids = await post_payments(uow_factory, 5)
    async with uow_factory() as uow:
        reversal = (await reverse_entry(uow.ledger, ids[0], now=T0)).entry.id
        await uow.commit()
    async with uow_factory() as uow:  # rolled back: neither the entry nor its queue row stay
        await post_entry(uow.ledger, payment_draft(7), now=T0)
    assert await _queued(engine) == [*ids, reversal]
    async with uow_factory() as uow:  # a seal that rolls back leaves the queue as it was
        await seal_journal(uow.ledger, now=T0, batch=4)
    assert await _queued(engine) == [*ids, reversal]
    await _seal(uow_factory, 4)
    assert await _sealed(engine) == ids[:4]
    assert await _queued(engine) == [ids[4], reversal]
    await _seal(uow_factory, 4)
    assert await _sealed(engine) == [*ids, reversal]
    assert await _queued(engine) == []


@pytest.mark.postgres_only
async def test_an_entry_committed_after_higher_ids_were_sealed_is_still_sealed(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    """Why not an id watermark: the lower id becomes visible only after the higher was sealed."""
    (first,) = await post_payments(uow_factory, 1)  # opens the accounts, which would otherwise wait
    async with uow_factory() as slow:
        late = (await post_entry(slow.ledger, payment_draft(1), now=T0)).entry.id
        (early,) = await post_payments(uow_factory, 1)
        assert early > late
        await _seal(uow_factory, 10)
        assert await _sealed(engine) == [first, early]
        await slow.commit()
    await _seal(uow_factory, 10)
    assert await _sealed(engine) == [first, early, late]
    assert await _queued(engine) == []
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, [str(p) for p in report.problems]


def _migrate(database_url: str, revision: str, *, down: bool = False) -> None:
    """On a thread of its own: Alembic's env.py runs its own event loop."""
    move = command.downgrade if down else command.upgrade
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(move, alembic_config(database_url), revision).result()


async def test_migration_0010_queues_every_entry_not_yet_sealed(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str
) -> None:
    ids = await post_payments(uow_factory, 5)
    await _seal(uow_factory, 2)
    await engine.dispose()
    _migrate(database_url, "0009", down=True)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    assert "ledger_unsealed" not in tables
    assert "ledger_chain" in tables
    await engine.dispose()
    _migrate(database_url, "head")  # through 0010
    assert await _queued(engine) == ids[2:]
    await _seal(uow_factory, 10)
    assert await _sealed(engine) == ids
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, [str(p) for p in report.problems]
