"""A run's items: the exception list with its filters, the CSV export, one item, resolving it."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from payments.domain.errors import Conflict, FieldProblem, InvalidInput
from payments.entrypoints.console.csrf import checked_form
from payments.entrypoints.console.pages import (
    ITEMS_PAGE,
    cursor,
    path_id,
    see_other,
    staff_only,
)
from payments.entrypoints.console.render import render
from payments.entrypoints.console.reports import (
    OUTCOME_ORDER,
)
from payments.entrypoints.console.session import (
    PREFIX,
    Staff,
)
from payments.http.requests import container
from payments.reconcile.ports import ItemFilter, ItemState
from payments.reconcile.rules.matching import EXCEPTIONS, Outcome
from payments.reconcile.usecases.imports import SETTLEMENT_PROVIDERS
from payments.reconcile.usecases.reports import (
    MAX_NOTE,
    export_items_csv,
    item_detail,
    list_items,
    resolve_item,
)

log = structlog.get_logger()

AGENCY = re.compile(r"[A-Za-z0-9_.-]{1,32}")


ALL = "all"  # the outcome filter's value for every item (the default is every exception)


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


@staff_only
async def items_page(request: Request, staff: Staff) -> Response:
    uow = container(request).uow_factory
    run_id = path_id(request.path_params.get("run_id"), "run")
    filters = Filters(request)
    after = cursor(request, "after")
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
    return see_other(f"{PREFIX}/items/{item_id}?resolved=1")


routes = [
    Route("/runs/{run_id}/items", items_page, methods=["GET"]),
    Route("/runs/{run_id}/items.csv", items_csv, methods=["GET"]),
    Route("/items/{item_id}", item_page, methods=["GET"]),
    Route("/items/{item_id}/resolve", resolve_post, methods=["POST"]),
]
