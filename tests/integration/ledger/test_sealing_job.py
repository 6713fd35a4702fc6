"""The worker seals the journal by itself: in bounded batches, one sealer at a time.

Each batch is a transaction of its own under the chain lock (PostgreSQL: an advisory lock;
SQLite: the single writer), so sealers in several processes take turns and never seal an
entry twice or fork the chain, also while entries keep arriving.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db.engine import make_engine
from payments.bootstrap import provider_registry
from payments.entrypoints.worker.jobs import SEAL_BATCHES_PER_ROUND, periodic_jobs
from payments.http.container import Container
from payments.ledger.sealing import SealRun, seal_backlog, unsealed_backlog
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.tables import ledger_chain
from payments.ledger.verification import verify_ledger
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import TEST_PROVIDERS
from tests.support.ledger_builders import T0, post_payments


def clock() -> datetime:
    return T0 + timedelta(minutes=5)


async def chain(engine: AsyncEngine) -> list[tuple[int, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(ledger_chain.c.position, ledger_chain.c.entry_id).order_by("position")
        )
        return [(int(r.position), int(r.entry_id)) for r in rows]


async def assert_sound(engine: AsyncEngine) -> None:
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, [str(p) for p in report.problems]


async def test_a_backlog_is_sealed_batch_by_batch_up_to_the_bound(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    ids = await post_payments(uow_factory, 11)
    first = await seal_backlog(uow_factory, clock=clock, batch=4, max_batches=2)
    assert (first.sealed, first.batches, first.more) == (8, 2, True)
    assert await unsealed_backlog(uow_factory) == 3
    assert [entry for _, entry in await chain(engine)] == ids[:8]
    rest = await seal_backlog(uow_factory, clock=clock, batch=4, max_batches=2)
    assert (rest.sealed, rest.batches, rest.more) == (3, 1, False)
    assert str(rest.anchor).startswith("11:")
    idle = await seal_backlog(uow_factory, clock=clock, batch=4, max_batches=2)
    assert (idle.sealed, idle.batches, idle.more) == (0, 1, False)
    assert idle.head == rest.head
    assert await unsealed_backlog(uow_factory) == 0
    await assert_sound(engine)


@pytest.fixture
async def container(database_url: str, engine: AsyncEngine) -> AsyncIterator[Container]:
    options: dict[str, Any] = {"seal_batch": 3, "seal_interval_seconds": 7, **TEST_PROVIDERS}
    settings = Settings(database_url=database_url, **options)
    async with httpx.AsyncClient() as http:
        yield Container(
            settings=settings,
            engine=engine,
            uow_factory=SqlUnitOfWorkFactory(engine),
            http=http,
            providers=provider_registry(settings, http),
            clock=clock,
        )


async def test_the_worker_has_a_sealing_job_that_works_off_the_backlog(
    container: Container, engine: AsyncEngine
) -> None:
    [job] = [job for job in periodic_jobs(container, "w1") if job.name == "ledger-seal"]
    assert job.interval == timedelta(seconds=7)
    per_round = 3 * SEAL_BATCHES_PER_ROUND
    ids = await post_payments(container.uow_factory, per_round + 5)
    first = await job.run()
    assert isinstance(first, SealRun)
    assert (first.sealed, first.batches, first.more) == (per_round, SEAL_BATCHES_PER_ROUND, True)
    second = await job.run()
    assert isinstance(second, SealRun)
    assert (second.sealed, second.more) == (5, False)
    assert [entry for _, entry in await chain(engine)] == ids
    await assert_sound(engine)


async def test_sealing_can_be_switched_off(container: Container) -> None:
    container.settings = container.settings.model_copy(update={"seal_interval_seconds": 0})
    assert "ledger-seal" not in {job.name for job in periodic_jobs(container, "w1")}


async def test_two_sealers_at_once_never_seal_twice_nor_fork_the_chain(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str
) -> None:
    """Two processes' sealers (two engines) and a writer, all at once."""
    await post_payments(uow_factory, 1)  # opens the accounts
    await post_payments(uow_factory, 120)
    other = make_engine(database_url, pool_size=4)
    try:
        sealers = [SqlUnitOfWorkFactory(engine), SqlUnitOfWorkFactory(other)]

        async def writer() -> int:
            for _ in range(6):
                await post_payments(uow_factory, 5)
                await asyncio.sleep(0)
            return 30

        runs = await asyncio.gather(
            *(seal_backlog(s, clock=clock, batch=7) for s in sealers),
            *(seal_backlog(s, clock=clock, batch=5) for s in sealers),
            writer(),
        )
        final = await seal_backlog(sealers[1], clock=clock, batch=50)
    finally:
        await other.dispose()
    seal_runs = [run for run in runs if isinstance(run, SealRun)]
    assert all(run.refused is None for run in [*seal_runs, final])
    links = await chain(engine)
    assert len(links) == 151
    assert sum(run.sealed for run in seal_runs) + final.sealed == 151
    assert [position for position, _ in links] == list(range(1, 152))
    assert len({entry for _, entry in links}) == 151
    assert await unsealed_backlog(uow_factory) == 0
    await assert_sound(engine)
