"""The runs: the list with the day's chart, starting a run, one run's totals."""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments.domain.errors import Conflict
from payments.entrypoints.console import formatting
from payments.entrypoints.console.chart import ChartTexts, day_chart
from payments.entrypoints.console.csrf import checked_form
from payments.entrypoints.console.pages import (
    RUNS_PAGE,
    business_day,
    cursor,
    path_id,
    see_other,
    staff_only,
)
from payments.entrypoints.console.render import language, render
from payments.entrypoints.console.reports import (
    CHART_DAYS,
    EXCEPTION_NAMES,
    OUTCOME_ORDER,
    recent_days,
    run_rows,
)
from payments.entrypoints.console.session import (
    PREFIX,
    Staff,
)
from payments.entrypoints.console.texts import TEXTS
from payments.entrypoints.day_runs import run_day
from payments.http.requests import container
from payments.reconcile.ports import Dimension
from payments.reconcile.usecases.reports import (
    list_runs,
    run_report,
)

log = structlog.get_logger()


@staff_only
async def runs_page(request: Request, staff: Staff) -> Response:
    return await _runs_page(request, staff)


async def _runs_page(
    request: Request,
    staff: Staff,
    *,
    status_code: int = 200,
    error_key: str | None = None,
    error_day: date | None = None,
    typed_day: str = "",
) -> Response:
    uow = container(request).uow_factory
    before = cursor(request, "before")
    runs = await list_runs(uow, before_id=before, limit=RUNS_PAGE + 1)
    page = list(runs[:RUNS_PAGE])
    more = len(runs) > RUNS_PAGE
    return render(
        request,
        "runs.html",
        {
            "staff": staff,
            "rows": await run_rows(uow, page),
            "outcomes": OUTCOME_ORDER,
            "exception_names": EXCEPTION_NAMES,
            "older": f"{PREFIX}/runs?before={page[-1].id}" if more else None,
            "newest": f"{PREFIX}/runs" if before is not None else None,
            "error_key": error_key,
            "error_day": error_day,
            "typed_day": typed_day,
        },
        status_code=status_code,
    )


async def reconciled(request: Request, staff: Staff, day: date) -> Response:
    """Run ``day`` as the signed-in person, off the event loop as over the API, and show the
    new run. Conflict when no treasury statement was imported for the day."""
    run = await run_day(container(request), request.app, day, actor=staff.actor)
    log.info(
        "console_day_reconciled", actor=staff.actor, business_date=day.isoformat(), run_id=run.id
    )
    return see_other(f"{PREFIX}/runs/{run.id}?reconciled=1")


@staff_only
async def reconcile_post(request: Request, staff: Staff) -> Response:
    form = await checked_form(request)
    typed = str(form.get("business_date") or "").strip()[:40]
    day = business_day(typed)
    if day is None:
        return await _runs_page(
            request, staff, status_code=400, error_key="reconcile_bad_day", typed_day=typed
        )
    try:
        return await reconciled(request, staff, day)
    except Conflict:
        return await _runs_page(
            request,
            staff,
            status_code=409,
            error_key="reconcile_no_statement",
            error_day=day,
            typed_day=typed,
        )


@staff_only
async def run_page(request: Request, staff: Staff) -> Response:
    uow = container(request).uow_factory
    report = await run_report(uow, path_id(request.path_params.get("run_id"), "run"))
    t = TEXTS[language(request)]
    days = await recent_days(uow, report.run.business_date)
    chart = day_chart(
        days,
        ChartTexts(
            title=t["chart_title"].format(days=CHART_DAYS),
            desc=t["chart_desc"],
            matched=t["chart_matched"],
            exceptions=t["chart_exceptions"],
            no_run=t["chart_no_run"],
            largest=t["chart_largest"],
        ),
        formatting.amount,
    )
    groups: dict[Dimension, dict[str | None, list[Any]]] = {}
    for dimension, rows in report.breakdowns.items():
        by_key: dict[str | None, list[Any]] = {}
        for row in rows:
            by_key.setdefault(row.key, []).append(row)
        groups[dimension] = by_key
    return render(
        request,
        "run.html",
        {
            "staff": staff,
            "report": report,
            "run": report.run,
            "outcomes": [o for o in OUTCOME_ORDER if o.value in report.run.totals],
            "exception_names": EXCEPTION_NAMES,
            "groups": groups,
            "dimensions": list(Dimension),
            "chart": Markup(chart),  # noqa: S704 - built by day_chart, every text escaped
            "just_reconciled": request.query_params.get("reconciled") == "1",
        },
    )


routes = [
    Route("/runs", runs_page, methods=["GET"]),
    Route("/runs", reconcile_post, methods=["POST"]),
    Route("/runs/{run_id}", run_page, methods=["GET"]),
]
