"""Daily jobs, exactly once per Vietnam business day across every worker.

Every worker asks regularly; the first to claim (job, day) in ``scheduled_runs`` runs it, the
others find it taken. The holder renews its lease while the job runs; if it dies the lease
lapses and another worker runs the day again, so a daily job must be repeatable (running a
day twice gives the same result and posts nothing twice). A job that raises is recorded as
failed and retried, up to ``max_attempts`` runs in all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from payments.domain.schedule import due_business_day
from payments.services.ports import UnitOfWorkFactory

Clock = Callable[[], datetime]
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class DailyJob:
    """``run(day, now)`` does the work for one Vietnam business day."""

    name: str
    run: Callable[[date, datetime], Awaitable[object]]


@dataclass(frozen=True)
class DailyPolicy:
    worker: str
    at: time  # Vietnam local time of day
    lease: timedelta
    max_attempts: int = 3


async def run_due_daily_jobs(
    uow_factory: UnitOfWorkFactory,
    jobs: list[DailyJob],
    policy: DailyPolicy,
    *,
    clock: Clock,
) -> list[tuple[str, date, str | None]]:
    """Run every job whose day is due and not yet claimed; (job, day, error) per run made."""
    ran = []
    for job in jobs:
        now = clock()
        day = due_business_day(now, policy.at)
        async with uow_factory() as uow:
            attempt = await uow.schedule.claim_run(
                job.name,
                day,
                worker=policy.worker,
                now=now,
                until=now + policy.lease,
                max_attempts=policy.max_attempts,
            )
            await uow.commit()
        if attempt is None:
            continue
        error = await _run_holding_lease(uow_factory, job, day, attempt, policy, clock)
        async with uow_factory() as uow:
            await uow.schedule.finish_run(
                job.name, day, worker=policy.worker, attempt=attempt, now=clock(), error=error
            )
            await uow.commit()
        ran.append((job.name, day, error))
    return ran


async def _run_holding_lease(
    uow_factory: UnitOfWorkFactory,
    job: DailyJob,
    day: date,
    attempt: int,
    policy: DailyPolicy,
    clock: Clock,
) -> str | None:
    async def renew() -> None:
        while True:
            await asyncio.sleep(policy.lease.total_seconds() / 3)
            async with uow_factory() as uow:
                now = clock()
                await uow.schedule.renew_run(
                    job.name, day, worker=policy.worker, attempt=attempt, until=now + policy.lease
                )
                await uow.commit()

    keeper = asyncio.create_task(renew())
    try:
        await job.run(day, clock())
    except Exception as exc:  # recorded on the run; the next attempt may succeed
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    return None
