"""What the console's pages show, computed from the reconciliation queries.

The services answer per run; the console's chart wants the latest run of each recent day,
which is one ``list_runs(business_date=...)`` per day (a fortnight: fourteen small queries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from payments.entrypoints.console.chart import DayTotals
from payments.reconcile.ports import ItemFilter, ItemState, RunRecord
from payments.reconcile.rules.matching import EXCEPTIONS, MATCHED_OUTCOMES, Outcome
from payments.reconcile.usecases.reports import list_items, list_runs
from payments.unit_of_work import WorkFactory

CHART_DAYS = 14
EXCEPTION_NAMES = frozenset(o.value for o in EXCEPTIONS)
MATCHED_NAMES = frozenset(o.value for o in MATCHED_OUTCOMES)
# The order outcomes are listed in: matched first, then the exceptions, then ignored lines.
OUTCOME_ORDER = (
    Outcome.MATCHED,
    Outcome.LATE,
    Outcome.MISSING_AT_TREASURY,
    Outcome.UNKNOWN_AT_GATEWAY,
    Outcome.AMOUNT_MISMATCH,
    Outcome.DUPLICATE,
    Outcome.PROVIDER_MISSING,
    Outcome.PROVIDER_UNKNOWN,
    Outcome.PROVIDER_AMOUNT_MISMATCH,
    Outcome.PROVIDER_DUPLICATE,
    Outcome.REFUND_MATCHED,
    Outcome.REFUND_MISSING_AT_PROVIDER,
    Outcome.REFUND_UNKNOWN_AT_GATEWAY,
    Outcome.REFUND_AMOUNT_MISMATCH,
    Outcome.REFUND_DUPLICATE,
    Outcome.IGNORED,
)


def exception_count(run: RunRecord) -> int:
    return sum(t.count for name, t in run.totals.items() if name in EXCEPTION_NAMES)


def matched_amount(run: RunRecord) -> int:
    """What the treasury confirmed for the day (matched and late credits)."""
    return sum(t.treasury_amount for name, t in run.totals.items() if name in MATCHED_NAMES)


@dataclass(frozen=True)
class RunRow:
    run: RunRecord
    exceptions: int
    status: str  # text key: status_clean, status_open, status_resolved, status_superseded


async def run_rows(uow_factory: WorkFactory, runs: Sequence[RunRecord]) -> list[RunRow]:
    rows = []
    newest_of_day: dict[date, int] = {}
    for run in runs:  # newest first: the first run seen of a day is its latest on this page
        newest_of_day.setdefault(run.business_date, run.id)
    for run in runs:
        exceptions = exception_count(run)
        if newest_of_day[run.business_date] != run.id:
            status = "status_superseded"
        elif exceptions == 0:
            status = "status_clean"
        else:
            still_open = await list_items(
                uow_factory, run.id, ItemFilter(state=ItemState.OPEN), limit=1
            )
            status = "status_open" if still_open else "status_resolved"
        rows.append(RunRow(run, exceptions, status))
    return rows


async def recent_days(
    uow_factory: WorkFactory, last: date, days: int = CHART_DAYS
) -> list[DayTotals]:
    """The latest run of each of the ``days`` days ending on ``last``, oldest first."""
    totals = []
    for back in range(days - 1, -1, -1):
        day = last - timedelta(days=back)
        latest = await list_runs(uow_factory, business_date=day, limit=1)
        if latest:
            run = latest[0]
            totals.append(DayTotals(day, matched_amount(run), exception_count(run)))
        else:
            totals.append(DayTotals(day, None, 0))
    return totals
