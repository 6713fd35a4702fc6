"""Daily jobs on the real databases: one run per day however many workers ask at once, a
crashed run taken over once its lease lapses, and the dead holder fenced out."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from payments.adapters.db.scheduled_runs import scheduled_runs
from payments.services.schedule import DailyJob, DailyPolicy, run_due_daily_jobs
from payments.unit_of_work import SqlUnitOfWorkFactory

NOW = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)  # 01:30 on the 23rd in Vietnam
DAY = date(2026, 11, 22)
LEASE = timedelta(minutes=5)


def policy(worker: str) -> DailyPolicy:
    return DailyPolicy(worker=worker, at=time(1, 0), lease=LEASE)


async def test_many_workers_at_once_run_the_day_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    ran: list[str] = []

    def job_for(worker: str) -> DailyJob:
        async def run(day: date, now: datetime) -> None:
            assert day == DAY
            await asyncio.sleep(0.05)
            ran.append(worker)

        return DailyJob("nightly-test", run)

    results = await asyncio.gather(
        *(
            run_due_daily_jobs(uow_factory, [job_for(w)], policy(w), clock=lambda: NOW)
            for w in ("a", "b", "c", "d")
        )
    )
    assert len(ran) == 1
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    async with uow_factory() as tx:
        row = (await tx.connection.execute(select(scheduled_runs))).one()
    assert (row.job, row.run_date, row.state, row.attempts) == (
        "nightly-test",
        "2026-11-22",
        "done",
        1,
    )
    assert row.claimed_by is None


async def test_a_crashed_run_is_taken_over_after_its_lease(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as tx:  # worker "dead" claimed the day and then died
        attempt = await tx.schedule.claim_run(
            "nightly-test", DAY, worker="dead", now=NOW, until=NOW + LEASE, max_attempts=3
        )
        await tx.commit()
    assert attempt == 1
    ran: list[date] = []

    async def run(day: date, now: datetime) -> None:
        ran.append(day)

    jobs = [DailyJob("nightly-test", run)]
    early = NOW + LEASE - timedelta(seconds=1)
    assert await run_due_daily_jobs(uow_factory, jobs, policy("b"), clock=lambda: early) == []
    late = NOW + LEASE
    assert await run_due_daily_jobs(uow_factory, jobs, policy("b"), clock=lambda: late) == [
        ("nightly-test", DAY, None)
    ]
    assert ran == [DAY]
    async with uow_factory() as tx:
        fenced = await tx.schedule.finish_run(
            "nightly-test", DAY, worker="dead", attempt=1, now=late, error=None
        )
        renewed = await tx.schedule.renew_run(
            "nightly-test", DAY, worker="dead", attempt=1, until=late + LEASE
        )
    assert (fenced, renewed) == (False, False)
