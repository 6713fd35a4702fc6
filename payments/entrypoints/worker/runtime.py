"""Run periodic and daily jobs until told to stop.

Each periodic job loops in its own task: run, then wait for its interval or for the stop
signal. Stopping (SIGTERM, or the web app's shutdown when it hosts the jobs) lets every job
finish the round it is in (a delivery batch records its results); what is still running after
the grace period is cancelled, and a cancelled delivery gives its claims back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from payments.adapters.metrics import count_job_failure
from payments.services.schedule import Clock, DailyJob, DailyPolicy, run_due_daily_jobs
from payments.unit_of_work import WorkFactory

log = structlog.get_logger()


@dataclass(frozen=True)
class PeriodicJob:
    """``run()`` does one round; the worker calls it again ``interval`` after it returns."""

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[object]]


class Worker:
    def __init__(
        self,
        periodic: list[PeriodicJob],
        daily: list[DailyJob],
        *,
        uow_factory: WorkFactory,
        daily_policy: DailyPolicy,
        clock: Clock,
        daily_check_every: timedelta = timedelta(seconds=30),
        grace: timedelta = timedelta(seconds=30),
    ) -> None:
        self.jobs = list(periodic)
        if daily:
            self.jobs.append(
                PeriodicJob(
                    "daily-schedule",
                    daily_check_every,
                    lambda: run_due_daily_jobs(uow_factory, daily, daily_policy, clock=clock),
                )
            )
        self.grace = grace
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop claiming new work; ``run`` returns once current rounds are done."""
        self._stopping.set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._loop(job), name=job.name) for job in self.jobs]
        log.info("worker_started", jobs=[job.name for job in self.jobs])
        try:
            await self._stopping.wait()
            _, late = await asyncio.wait(tasks, timeout=self.grace.total_seconds())
            for task in late:
                log.warning("worker_job_cancelled", job=task.get_name())
                task.cancel()
        finally:
            self._stopping.set()
            for task in tasks:
                if not task.done():
                    task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            log.info("worker_stopped")

    async def _loop(self, job: PeriodicJob) -> None:
        while not self._stopping.is_set():
            try:
                await job.run()
            except Exception:  # one failed round must not stop the job; the next one retries
                log.exception("worker_job_failed", job=job.name)
                count_job_failure(job.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), job.interval.total_seconds())
