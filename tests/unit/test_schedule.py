"""Which Vietnam business day a daily job runs for, and the schedule on in-memory fakes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from payments.domain.schedule import due_business_day, parse_local_time
from payments.services.schedule import DailyJob, DailyPolicy, run_due_daily_jobs
from tests.unit.fakes import FakeUnitOfWorkFactory

AT = time(1, 0)


def test_the_previous_vietnam_day_once_the_local_time_has_passed() -> None:
    # 2026-11-22 17:59 UTC is 00:59 on the 23rd in Vietnam: the 22nd is not due yet.
    assert due_business_day(datetime(2026, 11, 22, 17, 59, tzinfo=UTC), AT) == date(2026, 11, 21)
    assert due_business_day(datetime(2026, 11, 22, 18, 0, tzinfo=UTC), AT) == date(2026, 11, 22)
    # 23:30 UTC on the 22nd is already the 23rd in Vietnam.
    assert due_business_day(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), AT) == date(2026, 11, 22)


@pytest.mark.parametrize("text", ["1:00", "24:00", "01:60", "0100", "", "ab:cd", "01:00:00"])
def test_bad_times_of_day_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_local_time(text)


async def test_a_daily_job_runs_once_per_day_and_a_failure_is_retried() -> None:
    uow = FakeUnitOfWorkFactory()
    ran: list[tuple[str, date]] = []
    failures = [RuntimeError("treasury file missing")]

    async def job(day: date, now: datetime) -> None:
        if failures:
            raise failures.pop()
        ran.append(("ok", day))

    clock_now = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
    jobs = [DailyJob("reconcile", job)]

    def policy(worker: str) -> DailyPolicy:
        return DailyPolicy(worker=worker, at=AT, lease=timedelta(minutes=5), max_attempts=3)

    first = await run_due_daily_jobs(uow, jobs, policy("a"), clock=lambda: clock_now)
    assert first == [("reconcile", date(2026, 11, 22), "RuntimeError: treasury file missing")]
    second = await run_due_daily_jobs(uow, jobs, policy("b"), clock=lambda: clock_now)
    assert second == [("reconcile", date(2026, 11, 22), None)]
    assert await run_due_daily_jobs(uow, jobs, policy("c"), clock=lambda: clock_now) == []
    assert ran == [("ok", date(2026, 11, 22))]
