"""Daily jobs: which Vietnam business day is due at a given moment.

A daily job (the nightly reconciliation, for one) runs once per Vietnam calendar day, at a
configured local time, for the day before. Pure: the claim that makes it run exactly once
across processes lives in the services and the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_local_time(text: str) -> time:
    """``HH:MM`` (24 h, Vietnam time); ValueError otherwise."""
    match = HH_MM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def vietnam_day(moment: datetime) -> date:
    return moment.astimezone(VIETNAM_TIME).date()


def due_business_day(now: datetime, at: time) -> date:
    """The latest business day whose run is due: yesterday once today's ``at`` has passed
    (Vietnam time), the day before yesterday until then. A worker that was down at ``at``
    therefore still runs the day when it comes back."""
    local = now.astimezone(VIETNAM_TIME)
    yesterday = local.date() - timedelta(days=1)
    return yesterday if local.time() >= at else yesterday - timedelta(days=1)


@dataclass(frozen=True)
class RunClaim:
    """A worker's hold on one (job, day): ``attempt`` fences its writes."""

    job: str
    run_date: date
    worker: str
    attempt: int
