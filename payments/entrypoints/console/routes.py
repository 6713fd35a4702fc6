"""The console's pages: sign-in, runs, a run's summary, its exceptions, an item, resolving,
reconciling a day.

Thin handlers: parse, call the reconciliation services, render. Staff see every agency's
items, as over the API (``/v1/reconciliation``): the services do not scope by agency.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

import structlog
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from payments.domain.errors import Conflict, FieldProblem, InvalidInput, NotAuthenticated, NotFound
from payments.entrypoints.api.reconciliation import FIRST_DAY, LAST_DAY, run_day
from payments.entrypoints.console import formatting
from payments.entrypoints.console.chart import ChartTexts, day_chart
from payments.entrypoints.console.csrf import checked_form
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
    STAFF,
    NotStaff,
    SignInRequired,
    Staff,
    current_staff,
    end_session,
    session,
    sign_in,
)
from payments.entrypoints.console.texts import TEXTS, choose
from payments.http.requests import container
from payments.reconcile.ports import Dimension, ItemFilter, ItemState
from payments.reconcile.rules.matching import EXCEPTIONS, Outcome
from payments.reconcile.usecases.imports import SETTLEMENT_PROVIDERS
from payments.reconcile.usecases.reports import (
    MAX_NOTE,
    export_items_csv,
    item_detail,
    list_items,
    list_runs,
    resolve_item,
    run_report,
)

log = structlog.get_logger()
RUNS_PAGE = 20
ITEMS_PAGE = 50
AGENCY = re.compile(r"[A-Za-z0-9_.-]{1,32}")
SIGN_IN_REASONS = ("session_ended", "signed_out")
ALL = "all"  # the outcome filter's value for every item (the default is every exception)


# --- parameters ---------------------------------------------------------------------------


def path_id(raw: str | None, what: str) -> int:
    """Ids are positive integers of sane length; anything else names nothing (404)."""
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 15 or int(raw) == 0:
        raise NotFound(f"no {what} {(raw or '')[:40]!r}")
    return int(raw)


def _cursor(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise InvalidInput([FieldProblem(name, "pass the link's value back unchanged")])
    return int(raw)


class Filters:
    """The exception list's filters as the query string carries them, validated."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        self.outcome = q.get("outcome", "")
        self.state = q.get("state", "")
        self.agency = q.get("agency", "").strip()
        self.provider = q.get("provider", "")
        problems = []
        if self.outcome not in ("", ALL) and self.outcome not in {o.value for o in Outcome}:
            problems.append(FieldProblem("outcome", "not an outcome"))
        if self.state not in ("", *(s.value for s in ItemState)):
            problems.append(FieldProblem("state", "open, resolved or closed"))
        if self.agency and not AGENCY.fullmatch(self.agency):
            problems.append(FieldProblem("agency", "an agency code"))
        if self.provider not in ("", *SETTLEMENT_PROVIDERS):
            problems.append(FieldProblem("provider", ", ".join(SETTLEMENT_PROVIDERS)))
        if problems:
            raise InvalidInput(problems)

    def item_filter(self) -> ItemFilter:
        if self.outcome == ALL:
            outcomes: frozenset[Outcome] = frozenset()
        elif self.outcome:
            outcomes = frozenset({Outcome(self.outcome)})
        else:
            outcomes = EXCEPTIONS
        return ItemFilter(
            outcomes=outcomes,
            state=ItemState(self.state) if self.state else None,
            agency=self.agency or None,
            provider=self.provider or None,
        )

    def query(self, **extra: str) -> str:
        values = {
            "outcome": self.outcome,
            "state": self.state,
            "agency": self.agency,
            "provider": self.provider,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})


# --- pages --------------------------------------------------------------------------------

Page = Callable[[Request, Staff], Awaitable[Response]]


def staff_only(page: Page) -> Callable[[Request], Awaitable[Response]]:
    """The page for a signed-in person (re-checked on every request), else the sign-in page."""

    async def handle(request: Request) -> Response:
        return await page(request, await current_staff(request))

    return handle


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def home(request: Request) -> Response:
    return _see_other(f"{PREFIX}/runs")


async def sign_in_page(request: Request) -> Response:
    if isinstance(session(request).get(STAFF), dict):
        try:
            await current_staff(request)
        except SignInRequired:  # an ended session simply shows the form
            pass
        else:
            return _see_other(f"{PREFIX}/runs")
    reason = request.query_params.get("reason")
    return render(
        request,
        "sign_in.html",
        {"notice_key": reason if reason in SIGN_IN_REASONS else None, "error_key": None},
    )


async def sign_in_post(request: Request) -> Response:
    form = await checked_form(request)
    key = str(form.get("api_key") or "").strip()
    try:
        staff = await sign_in(request, key)  # audited, a refusal too
    except NotAuthenticated:
        log.info("console_sign_in_refused", reason="bad_key")
        return render(
            request, "sign_in.html", {"error_key": "bad_key", "notice_key": None}, status_code=401
        )
    except NotStaff as refused:
        log.info("console_sign_in_refused", reason="wrong_role", role=str(refused))
        return render(
            request,
            "sign_in.html",
            {"error_key": "wrong_role", "notice_key": None},
            status_code=403,
        )
    log.info("console_signed_in", actor=staff.actor, role=staff.role.value)
    return _see_other(f"{PREFIX}/runs")


async def sign_out_post(request: Request) -> Response:
    await checked_form(request)
    await end_session(request)
    return _see_other(f"{PREFIX}/sign-in?reason=signed_out")


def _local_path(raw: object) -> str:
    """Where to go back to: only a console path of this site (no open redirect)."""
    if (
        isinstance(raw, str)
        and raw.startswith(f"{PREFIX}/")
        and "//" not in raw
        and "\\" not in raw
    ):
        return raw
    return f"{PREFIX}/runs"


async def language_post(request: Request) -> Response:
    form = await checked_form(request)
    session(request)["lang"] = choose(form.get("lang"))
    return _see_other(_local_path(form.get("next")))


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
    before = _cursor(request, "before")
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


def business_day(raw: str) -> date | None:
    """The day a form names (``YYYY-MM-DD``, as a date input sends it), if a sane one."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


async def reconciled(request: Request, staff: Staff, day: date) -> Response:
    """Run ``day`` as the signed-in person, off the event loop as over the API, and show the
    new run. Conflict when no treasury statement was imported for the day."""
    run = await run_day(container(request), request.app, day, actor=staff.actor)
    log.info(
        "console_day_reconciled", actor=staff.actor, business_date=day.isoformat(), run_id=run.id
    )
    return _see_other(f"{PREFIX}/runs/{run.id}?reconciled=1")


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


@staff_only
async def items_page(request: Request, staff: Staff) -> Response:
    uow = container(request).uow_factory
    run_id = path_id(request.path_params.get("run_id"), "run")
    filters = Filters(request)
    after = _cursor(request, "after")
    found = await list_items(
        uow, run_id, filters.item_filter(), after_id=after, limit=ITEMS_PAGE + 1
    )
    page = list(found[:ITEMS_PAGE])
    more = len(found) > ITEMS_PAGE
    base = f"{PREFIX}/runs/{run_id}/items"
    return render(
        request,
        "items.html",
        {
            "staff": staff,
            "run_id": run_id,
            "items": page,
            "filters": filters,
            "outcomes": OUTCOME_ORDER,
            "states": list(ItemState),
            "providers": SETTLEMENT_PROVIDERS,
            "all_value": ALL,
            "next_url": f"{base}?{filters.query(after=str(page[-1].id))}" if more else None,
            "first_url": f"{base}?{filters.query()}" if after is not None else None,
            "csv_url": f"{PREFIX}/runs/{run_id}/items.csv?{filters.query()}",
        },
    )


@staff_only
async def items_csv(request: Request, staff: Staff) -> Response:
    run_id = path_id(request.path_params.get("run_id"), "run")
    filters = Filters(request)
    chunks = await export_items_csv(container(request).uow_factory, run_id, filters.item_filter())
    log.info("console_export", actor=staff.actor, run_id=run_id)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="reconciliation-run-{run_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


async def _item_page(
    request: Request,
    staff: Staff,
    item_id: int,
    *,
    status_code: int = 200,
    message_key: str | None = None,
    error_key: str | None = None,
    note: str = "",
) -> Response:
    detail = await item_detail(container(request).uow_factory, item_id)
    return render(
        request,
        "item.html",
        {
            "staff": staff,
            "detail": detail,
            "stored": detail.item,
            "item": detail.item.item,
            "message_key": message_key,
            "error_key": error_key,
            "note": note,
            "max_note": MAX_NOTE,
        },
        status_code=status_code,
    )


@staff_only
async def item_page(request: Request, staff: Staff) -> Response:
    item_id = path_id(request.path_params.get("item_id"), "item")
    done = request.query_params.get("resolved") == "1"
    return await _item_page(request, staff, item_id, message_key="just_resolved" if done else None)


@staff_only
async def resolve_post(request: Request, staff: Staff) -> Response:
    item_id = path_id(request.path_params.get("item_id"), "item")
    form = await checked_form(request)
    note = str(form.get("note") or "")
    app = container(request)
    try:
        await resolve_item(app.uow_factory, item_id, note=note, actor=staff.actor, now=app.clock())
    except InvalidInput:
        return await _item_page(
            request, staff, item_id, status_code=400, error_key="note_required", note=note
        )
    except Conflict:
        detail = await item_detail(app.uow_factory, item_id)
        key = (
            "already_resolved" if detail.item.state is ItemState.RESOLVED else "nothing_to_resolve"
        )
        return await _item_page(request, staff, item_id, status_code=409, error_key=key)
    log.info("console_item_resolved", actor=staff.actor, item_id=item_id)
    return _see_other(f"{PREFIX}/items/{item_id}?resolved=1")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in_post, methods=["POST"]),
    Route("/sign-out", sign_out_post, methods=["POST"]),
    Route("/language", language_post, methods=["POST"]),
    Route("/runs", runs_page, methods=["GET"]),
    Route("/runs", reconcile_post, methods=["POST"]),
    Route("/runs/{run_id}", run_page, methods=["GET"]),
    Route("/runs/{run_id}/items", items_page, methods=["GET"]),
    Route("/runs/{run_id}/items.csv", items_csv, methods=["GET"]),
    Route("/items/{item_id}", item_page, methods=["GET"]),
    Route("/items/{item_id}/resolve", resolve_post, methods=["POST"]),
]
