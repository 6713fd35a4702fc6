"""/v1/reconciliation: the nightly runs, their totals and items, the exception workflow.

Treasury staff (and administrators) read the reports, export them as CSV, resolve exceptions
with a note, and may run a day again (against the statements imported for it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from payments.domain.access import Role
from payments.domain.errors import FieldProblem, NotFound
from payments.domain.pages import one_page
from payments.domain.resources import iso
from payments.entrypoints.api.operations import Operation, api_route
from payments.entrypoints.day_runs import FIRST_DAY, LAST_DAY, run_day
from payments.http.pages import page_body
from payments.http.problems import ApiError
from payments.http.requests import (
    caller,
    container,
    decode_cursor,
    parse_json_body,
    query_model,
)
from payments.reconcile.ports import (
    Breakdown,
    Dimension,
    HistoryEntry,
    ItemFilter,
    ItemState,
    RunRecord,
    StoredItem,
)
from payments.reconcile.rules.matching import Outcome
from payments.reconcile.usecases.reports import (
    export_items_csv,
    item_detail,
    list_items,
    list_runs,
    resolve_item,
    run_report,
)

STAFF = (Role.TREASURY, Role.ADMIN)
AGENCY = r"^[A-Za-z0-9_.-]{1,32}$"
# Days a statement can be about: far enough from the ends of the calendar to count business
# days either side without overflowing.

OutcomeName = Literal[
    "matched",
    "late",
    "amount_mismatch",
    "duplicate",
    "unknown_at_gateway",
    "missing_at_treasury",
    "ignored",
    "provider_missing",
    "provider_unknown",
    "provider_amount_mismatch",
    "provider_duplicate",
    "refund_matched",
    "refund_missing_at_provider",
    "refund_unknown_at_gateway",
    "refund_amount_mismatch",
    "refund_duplicate",
]
OUTCOME_COUNT = len(Outcome)


# --- schemas ------------------------------------------------------------------------------


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class ItemsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: list[OutcomeName] = Field(default_factory=list, max_length=OUTCOME_COUNT)
    state: Literal["open", "resolved", "closed"] | None = None
    agency: str | None = Field(default=None, pattern=AGENCY)
    provider: Literal["vnpay", "momo", "vietqr"] | None = None
    treasury_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,20}$")
    chapter: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    sub_item: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    payment_id: str | None = Field(default=None, pattern=r"^pay_[0-9A-Z]{26}$")
    refund_id: str | None = Field(default=None, pattern=r"^rfd_[0-9A-Z]{26}$")
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=200)


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: list[OutcomeName] = Field(default_factory=list, max_length=OUTCOME_COUNT)
    state: Literal["open", "resolved", "closed"] | None = None
    agency: str | None = Field(default=None, pattern=AGENCY)
    provider: Literal["vnpay", "momo", "vietqr"] | None = None


class RunDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date = Field(
        ge=FIRST_DAY, le=LAST_DAY, description="The Vietnam business day to reconcile."
    )


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000, description="Why the item is explained.")


class OutcomeTotalOut(BaseModel):
    count: int
    gateway_amount: int
    treasury_amount: int


class RunOut(BaseModel):
    id: int
    business_date: date
    started_at: datetime
    finished_at: datetime
    actor: str
    statements: list[int]
    config: dict[str, Any]
    totals: dict[str, OutcomeTotalOut]
    item_count: int
    matched_gateway_total: int
    matched_treasury_total: int
    posted_payments: int = Field(description="Payments whose remittance the run posted.")
    posted_entries: int = Field(description="Ledger entries the run posted.")
    settled_payments: int = Field(
        description="Payments whose provider settlement the run booked from the report."
    )
    awaiting_settlement: int = Field(
        description="Payments the treasury confirmed whose remittance waits for their "
        "provider's settlement report."
    )


class RunPageOut(BaseModel):
    data: list[RunOut]
    has_more: bool
    next_cursor: str | None


class BreakdownOut(BaseModel):
    key: str | None
    outcome: OutcomeName
    count: int
    gateway_amount: int
    treasury_amount: int


class RunReportOut(RunOut):
    is_latest: bool
    by_agency: list[BreakdownOut]
    by_treasury_code: list[BreakdownOut]
    by_chapter: list[BreakdownOut]
    by_sub_item: list[BreakdownOut]
    by_provider: list[BreakdownOut]


class ItemOut(BaseModel):
    id: int
    run_id: int
    item_key: str | None = Field(description="Exceptions only: stable across reruns.")
    outcome: OutcomeName
    state: Literal["open", "resolved", "closed"]
    payment_id: str | None
    refund_id: str | None = Field(description="refund_* outcomes: the refund the item is about.")
    line_number: int | None
    currency: str
    gateway_amount: int | None
    treasury_amount: int | None
    reference: str | None
    batch_reference: str | None
    agency: str | None
    treasury_code: str | None
    chapter: str | None
    sub_item: str | None
    provider: str | None
    booking_date: date | None
    days_late: int | None
    note: str
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class ItemPageOut(BaseModel):
    data: list[ItemOut]
    has_more: bool
    next_cursor: str | None


class HistoryOut(BaseModel):
    run_id: int
    action: str
    actor: str
    note: str
    occurred_at: datetime


class ItemDetailOut(ItemOut):
    business_date: date
    history: list[HistoryOut]


# --- presenters ---------------------------------------------------------------------------


def _run(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "business_date": run.business_date.isoformat(),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "actor": run.actor,
        "statements": list(run.statements),
        "config": run.config,
        "totals": {k: v.__dict__ for k, v in run.totals.items()},
        "item_count": run.item_count,
        "matched_gateway_total": run.matched_gateway_total,
        "matched_treasury_total": run.matched_treasury_total,
        "posted_payments": run.posted_payments,
        "posted_entries": run.posted_entries,
        "settled_payments": run.settled_payments,
        "awaiting_settlement": run.awaiting_settlement,
    }


def _breakdown(rows: list[Breakdown]) -> list[dict[str, Any]]:
    return [
        {
            "key": b.key,
            "outcome": b.outcome.value,
            "count": b.count,
            "gateway_amount": b.gateway_amount,
            "treasury_amount": b.treasury_amount,
        }
        for b in rows
    ]


def _item(stored: StoredItem) -> dict[str, Any]:
    i = stored.item
    return {
        "id": stored.id,
        "run_id": stored.run_id,
        "item_key": stored.item_key,
        "outcome": i.outcome.value,
        "state": stored.state.value,
        "payment_id": i.payment_id,
        "refund_id": i.refund_id,
        "line_number": i.line_number,
        "currency": i.currency,
        "gateway_amount": i.gateway_amount,
        "treasury_amount": i.treasury_amount,
        "reference": i.reference,
        "batch_reference": i.batch_reference,
        "agency": i.agency,
        "treasury_code": i.treasury_code,
        "chapter": i.chapter,
        "sub_item": i.sub_item,
        "provider": i.provider,
        "booking_date": i.booking_date.isoformat() if i.booking_date else None,
        "days_late": i.days_late,
        "note": i.note,
        "resolution_note": stored.resolution_note,
        "resolved_by": stored.resolved_by,
        "resolved_at": iso(stored.resolved_at) if stored.resolved_at else None,
    }


def _history(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "action": entry.action,
        "actor": entry.actor,
        "note": entry.note,
        "occurred_at": iso(entry.occurred_at),
    }


# --- parameters ---------------------------------------------------------------------------


def numeric_path_id(request: Request, name: str, what: str) -> int:
    """Ids are positive integers; anything else names nothing (404, never a 5xx)."""
    raw: str = request.path_params[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15 or int(raw) == 0:
        raise NotFound(f"no {what} {raw[:40]!r}")
    return int(raw)


def id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    raw = decode_cursor(cursor)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise ApiError(
            400,
            "invalid-query",
            "Invalid query parameters",
            "the cursor is not valid",
            [FieldProblem("cursor", "pass back next_cursor unchanged")],
        )
    return int(raw)


def _filter(query: ItemsQuery | ExportQuery) -> ItemFilter:
    extra: dict[str, Any] = {}
    if isinstance(query, ItemsQuery):
        extra = {
            "treasury_code": query.treasury_code,
            "chapter": query.chapter,
            "sub_item": query.sub_item,
            "payment_id": query.payment_id,
            "refund_id": query.refund_id,
        }
    return ItemFilter(
        outcomes=frozenset(Outcome(o) for o in query.outcome),
        state=ItemState(query.state) if query.state else None,
        agency=query.agency,
        provider=query.provider,
        **extra,
    )


# --- handlers -----------------------------------------------------------------------------


async def get_runs(request: Request) -> Response:
    await caller(request, *STAFF)
    query = query_model(request, RunsQuery)
    page, more = await one_page(
        lambda n: list_runs(
            container(request).uow_factory,
            before_id=id_cursor(query.cursor),
            limit=n,
            business_date=query.business_date,
        ),
        query.limit,
    )
    last = str(page[-1].id) if page else None
    return JSONResponse(page_body([_run(r) for r in page], more, last))


async def post_run(request: Request) -> Response:
    who = await caller(request, *STAFF)
    body = await parse_json_body(request, RunDay)
    app = container(request)
    run = await run_day(app, request.app, body.business_date, actor=who.actor)
    return JSONResponse(_run(run), status_code=201)


async def get_run(request: Request) -> Response:
    await caller(request, *STAFF)
    report = await run_report(
        container(request).uow_factory, numeric_path_id(request, "run_id", "run")
    )
    return JSONResponse(
        {
            **_run(report.run),
            "is_latest": report.is_latest,
            **{f"by_{d.value}": _breakdown(report.breakdowns.get(d, [])) for d in Dimension},
        }
    )


async def get_items(request: Request) -> Response:
    await caller(request, *STAFF)
    query = query_model(request, ItemsQuery, multi=frozenset({"outcome"}))
    run_id = numeric_path_id(request, "run_id", "run")
    page, more = await one_page(
        lambda n: list_items(
            container(request).uow_factory,
            run_id,
            _filter(query),
            after_id=id_cursor(query.cursor),
            limit=n,
        ),
        query.limit,
    )
    last = str(page[-1].id) if page else None
    return JSONResponse(page_body([_item(i) for i in page], more, last))


async def get_items_csv(request: Request) -> Response:
    await caller(request, *STAFF)
    query = query_model(request, ExportQuery, multi=frozenset({"outcome"}))
    run_id = numeric_path_id(request, "run_id", "run")
    chunks = await export_items_csv(container(request).uow_factory, run_id, _filter(query))
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-run-{run_id}.csv"'},
    )


async def get_item(request: Request) -> Response:
    await caller(request, *STAFF)
    detail = await item_detail(
        container(request).uow_factory, numeric_path_id(request, "item_id", "item")
    )
    return JSONResponse(
        {
            **_item(detail.item),
            "business_date": detail.run.business_date.isoformat(),
            "history": [_history(h) for h in detail.history],
        }
    )


async def post_resolve(request: Request) -> Response:
    who = await caller(request, *STAFF)
    item_id = numeric_path_id(request, "item_id", "item")
    body = await parse_json_body(request, Resolve)
    app = container(request)
    resolved = await resolve_item(
        app.uow_factory, item_id, note=body.note, actor=who.actor, now=app.clock()
    )
    return JSONResponse(_item(resolved))


_ROLES = tuple(r.value for r in STAFF)

routes = [
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/runs",
            "Reconciliation runs, newest first",
            "reconciliation",
            _ROLES,
            response=RunPageOut,
            query=RunsQuery,
            errors=(400, 401, 403),
        ),
        get_runs,
    ),
    api_route(
        Operation(
            "post",
            "/v1/reconciliation/runs",
            "Reconcile a business day against its imported treasury statements",
            "reconciliation",
            _ROLES,
            request=RunDay,
            response=RunOut,
            status=201,
            errors=(400, 401, 403, 413, 415, 422),
        ),
        post_run,
    ),
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/runs/{run_id}",
            "A run with its totals by agency, treasury, chapter, sub-item and provider",
            "reconciliation",
            _ROLES,
            response=RunReportOut,
            errors=(401, 403, 404),
        ),
        get_run,
    ),
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/runs/{run_id}/items",
            "A run's items, filtered, in report order",
            "reconciliation",
            _ROLES,
            response=ItemPageOut,
            query=ItemsQuery,
            errors=(400, 401, 403, 404),
        ),
        get_items,
    ),
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/runs/{run_id}/items.csv",
            "A run's items as CSV (text/csv)",
            "reconciliation",
            _ROLES,
            query=ExportQuery,
            errors=(400, 401, 403, 404),
        ),
        get_items_csv,
    ),
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/items/{item_id}",
            "One item, both sides, and its history",
            "reconciliation",
            _ROLES,
            response=ItemDetailOut,
            errors=(401, 403, 404),
        ),
        get_item,
    ),
    api_route(
        Operation(
            "post",
            "/v1/reconciliation/items/{item_id}/resolve",
            "Resolve an exception with a note",
            "reconciliation",
            _ROLES,
            request=Resolve,
            response=ItemOut,
            errors=(400, 401, 403, 404, 409, 413, 415, 422),
        ),
        post_resolve,
    ),
]
