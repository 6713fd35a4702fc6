"""/v1/reconciliation: the nightly runs, their totals and items, the exception workflow.

Treasury staff (and administrators) read the reports, export them as CSV, resolve exceptions
with a note, and may run a day again (against the statements imported for it).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from payments.domain.pages import one_page
from payments.entrypoints.api.operations import Operation, api_route
from payments.entrypoints.api.reconciliation_json import (
    breakdown_json,
    history_json,
    item_json,
    run_json,
)
from payments.entrypoints.api.reconciliation_models import (
    STAFF,
    ExportQuery,
    ItemDetailOut,
    ItemOut,
    ItemPageOut,
    ItemsQuery,
    Resolve,
    RunDay,
    RunOut,
    RunPageOut,
    RunReportOut,
    RunsQuery,
)
from payments.entrypoints.day_runs import run_day
from payments.http.pages import page_body
from payments.http.requests import (
    caller,
    container,
    id_cursor,
    numeric_path_id,
    parse_json_body,
    query_model,
)
from payments.reconcile.ports import (
    Dimension,
    ItemFilter,
    ItemState,
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

# Days a statement can be about: far enough from the ends of the calendar to count business
# days either side without overflowing.


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
    return JSONResponse(page_body([run_json(r) for r in page], more, last))


async def post_run(request: Request) -> Response:
    who = await caller(request, *STAFF)
    body = await parse_json_body(request, RunDay)
    app = container(request)
    run = await run_day(app, request.app, body.business_date, actor=who.actor)
    return JSONResponse(run_json(run), status_code=201)


async def get_run(request: Request) -> Response:
    await caller(request, *STAFF)
    report = await run_report(
        container(request).uow_factory, numeric_path_id(request, "run_id", "run")
    )
    return JSONResponse(
        {
            **run_json(report.run),
            "is_latest": report.is_latest,
            **{f"by_{d.value}": breakdown_json(report.breakdowns.get(d, [])) for d in Dimension},
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
    return JSONResponse(page_body([item_json(i) for i in page], more, last))


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
            **item_json(detail.item),
            "business_date": detail.run.business_date.isoformat(),
            "history": [history_json(h) for h in detail.history],
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
    return JSONResponse(item_json(resolved))


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
