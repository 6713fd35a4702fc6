"""Runs of daily jobs: one row per (job, Vietnam business day), claimed with a lease.

Exactly once per day across every worker: the primary key lets one insert win; a run whose
holder stopped renewing its lease (a dead process) is taken over by an UPDATE whose WHERE is
re-checked under the row lock, so two takers cannot both win either.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.db.metadata import metadata
from payments.db.types import UtcDateTime

RUNNING, DONE, FAILED = "running", "done", "failed"

scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("run_date", String(10), primary_key=True),  # the Vietnam business day, ISO
    Column("state", String(16), nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_until", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    CheckConstraint("state IN ('running', 'done', 'failed')", name="state"),
)


class SqlScheduledRuns:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim_run(
        self,
        job: str,
        run_date: date,
        *,
        worker: str,
        now: datetime,
        until: datetime,
        max_attempts: int,
    ) -> int | None:
        c = scheduled_runs.c
        values = {
            "job": job,
            "run_date": run_date.isoformat(),
            "state": RUNNING,
            "claimed_by": worker,
            "claimed_until": until,
            "started_at": now,
            "attempts": 1,
        }
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        inserted = await self._conn.execute(
            dialect.insert(scheduled_runs).values(values).on_conflict_do_nothing()
        )
        if inserted.rowcount == 1:
            return 1
        key = and_(c.job == job, c.run_date == run_date.isoformat())
        taken = await self._conn.execute(
            update(scheduled_runs)
            .where(
                key,
                or_(
                    and_(c.state == RUNNING, c.claimed_until <= now),
                    and_(c.state == FAILED, c.attempts < max_attempts),
                ),
            )
            .values(
                state=RUNNING,
                claimed_by=worker,
                claimed_until=until,
                started_at=now,
                finished_at=None,
                attempts=c.attempts + 1,
            )
        )
        if taken.rowcount != 1:
            return None
        attempts = (await self._conn.execute(select(c.attempts).where(key))).scalar_one()
        return int(attempts)

    async def renew_run(
        self, job: str, run_date: date, *, worker: str, attempt: int, until: datetime
    ) -> bool:
        c = scheduled_runs.c
        renewed = await self._conn.execute(
            update(scheduled_runs)
            .where(
                c.job == job,
                c.run_date == run_date.isoformat(),
                c.state == RUNNING,
                c.claimed_by == worker,
                c.attempts == attempt,
            )
            .values(claimed_until=until)
        )
        return renewed.rowcount == 1

    async def finish_run(
        self,
        job: str,
        run_date: date,
        *,
        worker: str,
        attempt: int,
        now: datetime,
        error: str | None,
    ) -> bool:
        c = scheduled_runs.c
        finished = await self._conn.execute(
            update(scheduled_runs)
            .where(
                c.job == job,
                c.run_date == run_date.isoformat(),
                c.state == RUNNING,
                c.claimed_by == worker,
                c.attempts == attempt,
            )
            .values(
                state=DONE if error is None else FAILED,
                finished_at=now,
                claimed_by=None,
                claimed_until=None,
                error=error,
            )
        )
        return finished.rowcount == 1
