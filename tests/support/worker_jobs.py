"""Jobs that tests hand to ``payments worker --jobs-from tests.support.worker_jobs:nightly``.

The daily job appends ``<day> <pid>`` to the file named by ``TEST_NIGHTLY_LOG``, so a test
counts how many runs happened across every worker process.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, datetime
from pathlib import Path

from payments.entrypoints.worker.runtime import PeriodicJob
from payments.http.container import Container
from payments.services.schedule import DailyJob


async def record_run(day: date, now: datetime) -> None:
    await asyncio.sleep(0.5)  # long enough for the other workers to try meanwhile
    await asyncio.to_thread(_append, f"{day.isoformat()} {os.getpid()}\n")


def _append(line: str) -> None:
    with Path(os.environ["TEST_NIGHTLY_LOG"]).open("a") as log:
        log.write(line)


def nightly(container: Container) -> list[PeriodicJob | DailyJob]:
    return [DailyJob("nightly-test", record_run)]
