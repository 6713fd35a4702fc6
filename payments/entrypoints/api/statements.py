"""/v1/reconciliation/statements: treasury staff upload a statement or a provider's settlement
report they received by other means (mail, a bank portal), and list what was imported.

The file is the raw request body. It is streamed to a temporary file under its own limit
(``PAYMENTS_STATEMENT_MAX_BYTES``: a national day is over a hundred megabytes, far above the
API's small body limit), then imported by the same services as the CLI and the nightly fetch:
same parsers, all or nothing, the same bytes twice store nothing new. The temporary file is
removed whatever happens.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from payments.domain.errors import FieldProblem
from payments.domain.pages import one_page
from payments.domain.resources import iso
from payments.entrypoints.api.operations import Operation, api_route
from payments.entrypoints.api.reconciliation_models import STAFF
from payments.entrypoints.day_runs import FIRST_DAY, LAST_DAY
from payments.entrypoints.statement_upload import (
    MEDIA_FORMATS,
    SHOWN_LINE_ERRORS,
    UNTYPED,
    InvalidFormat,
    choose_format,
    import_file,
    spool,
    upload_limit,
)
from payments.http.pages import page_body
from payments.http.problems import ApiError, problem_response
from payments.http.requests import (
    caller,
    container,
    id_cursor,
    limited,
    media_type,
    numeric_path_id,
    query_model,
)
from payments.reconcile.formats.statements import StatementError
from payments.reconcile.ports import StoredStatement
from payments.reconcile.usecases.reports import list_statements, statement_detail

log = structlog.get_logger()

# Literals, for the OpenAPI document's enums: statement_upload.SOURCES and treasury.FORMATS
# say the same (tests/unit/test_statement_sources.py holds them to it).
Source = Literal["treasury", "vnpay", "momo", "vietqr"]
Format = Literal["csv", "camt"]


# --- schemas ------------------------------------------------------------------------------


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date = Field(
        ge=FIRST_DAY, le=LAST_DAY, description="The Vietnam business day the file is about."
    )
    source: Source = Field(
        description="treasury: the treasury's statement; vnpay, momo, vietqr: that provider's "
        "settlement report (CSV)."
    )
    format: Format | None = Field(
        default=None,
        description="csv or camt (camt.053/054); by default from the Content-Type "
        "(text/csv, application/xml), else PAYMENTS_STATEMENT_FORMAT.",
    )


class StatementsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)
    source: Source | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class StatementOut(BaseModel):
    id: int
    source: str
    statement_id: str = Field(description="The file's own id (camt Stmt/Id), else its hash.")
    business_date: date
    format: str = Field(description="csv, camt.053 or camt.054")
    account: str
    currency: str
    line_count: int
    credit_total: int = Field(
        description="Statements: credits; settlement reports: gross of the payment lines."
    )
    debit_total: int = Field(description="Statements: debits; settlement reports: fees.")
    content_hash: str = Field(description="SHA-256 of the exact bytes.")
    imported_at: datetime
    imported_by: str
    superseded: bool = Field(
        description="A settlement report for which a newer one of the same provider and day "
        "was imported (a corrected file): runs read only the newest. Always false for "
        "treasury statements, which all count."
    )
    lists_refunds: bool = Field(
        description="A settlement report whose layout lists the refunds the provider paid "
        "out (VNPay vnp_TransactionType, MoMo type): the runs check the gateway's refunds "
        "against it. Always false for treasury statements."
    )


class UploadedOut(StatementOut):
    already_imported: bool = Field(
        description="True (status 200): these exact bytes were imported before; nothing new "
        "was stored and this is the earlier statement."
    )


class StatementPageOut(BaseModel):
    data: list[StatementOut]
    has_more: bool
    next_cursor: str | None


def statement_json(stored: StoredStatement) -> dict[str, Any]:
    return {
        "id": stored.id,
        "source": stored.source,
        "statement_id": stored.statement_id,
        "business_date": stored.business_date.isoformat(),
        "format": stored.format,
        "account": stored.account,
        "currency": stored.currency,
        "line_count": stored.line_count,
        "credit_total": stored.credit_total,
        "debit_total": stored.debit_total,
        "content_hash": stored.content_hash,
        "imported_at": iso(stored.imported_at),
        "imported_by": stored.imported_by,
        "superseded": stored.superseded,
        "lists_refunds": stored.lists_refunds,
    }


def line_error_problem(request: Request, error: StatementError) -> Response:
    """422 listing the first line errors and counting the rest. Each says where it is: the
    line of the file, the column when known (a camt entry's start, a malformed XML token)
    and a camt entry's number (1..N: what its stored line number would have been)."""
    shown = error.line_errors[:SHOWN_LINE_ERRORS]
    return problem_response(
        request,
        status=422,
        slug="statement-rejected",
        title=error.title,
        detail=error.detail,
        problems=[FieldProblem(e.place, e.message) for e in shown],
        extra={
            "line_errors": [
                {"line": e.line_number, "column": e.column, "entry": e.entry, "message": e.message}
                for e in shown
            ],
            "more_line_errors": max(0, error.line_error_count - len(shown)),
        },
    )


def _bad_query(field: str, message: str) -> ApiError:
    return ApiError(
        400,
        "invalid-query",
        "Invalid query parameters",
        f"{field}: {message}",
        [FieldProblem(field, message)],
    )


# --- handlers -----------------------------------------------------------------------------


async def post_statement(request: Request) -> Response:
    who = await caller(request, *STAFF)
    query = query_model(request, UploadQuery)
    app = container(request)
    content_type = media_type(request.headers.get("content-type"))
    if content_type not in MEDIA_FORMATS and content_type not in UNTYPED:
        raise ApiError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the file as the body: text/csv, application/xml or application/octet-stream",
        )
    try:
        fmt = choose_format(query.source, query.format, content_type, app.settings.statement_format)
    except InvalidFormat as exc:
        raise _bad_query("format", str(exc)) from None
    body = limited(request, upload_limit(app.settings, query.source))  # 413 beyond it
    with tempfile.TemporaryDirectory(prefix="statement-upload-") as folder:
        path = Path(folder) / f"upload.{fmt}"
        try:
            with path.open("wb") as out:
                size = await spool(body, out)
        except ClientDisconnect:
            raise ApiError(
                400, "incomplete-body", "Incomplete body", "the upload broke off"
            ) from None
        if size == 0:
            raise ApiError(400, "empty-body", "Empty body", "send the file as the request body")
        try:
            imported = await import_file(
                app,
                path,
                source=query.source,
                fmt=fmt,
                business_date=query.business_date,
                actor=who.actor,
                size=size,
            )
        except StatementError as error:
            log.info(
                "statement_upload_rejected",
                actor=who.actor,
                source=query.source,
                line_errors=error.line_error_count,
            )
            return line_error_problem(request, error)
    stored = imported.statement
    log.info(
        "statement_uploaded",
        actor=who.actor,
        source=query.source,
        statement=stored.id,
        created=imported.created,
        bytes=size,
    )
    headers = {"Idempotent-Replayed": "false" if imported.created else "true"}
    if imported.created:
        headers["Location"] = f"/v1/reconciliation/statements/{stored.id}"
    return JSONResponse(
        {**statement_json(stored), "already_imported": not imported.created},
        status_code=201 if imported.created else 200,
        headers=headers,
    )


async def get_statements(request: Request) -> Response:
    await caller(request, *STAFF)
    query = query_model(request, StatementsQuery)
    page, more = await one_page(
        lambda n: list_statements(
            container(request).uow_factory,
            before_id=id_cursor(query.cursor),
            limit=n,
            business_date=query.business_date,
            source=query.source,
        ),
        query.limit,
    )
    last = str(page[-1].id) if page else None
    return JSONResponse(page_body([statement_json(s) for s in page], more, last))


async def get_statement(request: Request) -> Response:
    await caller(request, *STAFF)
    statement_id = numeric_path_id(request, "statement_id", "statement")
    return JSONResponse(
        statement_json(await statement_detail(container(request).uow_factory, statement_id))
    )


_ROLES = tuple(r.value for r in STAFF)

routes = [
    api_route(
        Operation(
            "post",
            "/v1/reconciliation/statements",
            "Upload a treasury statement or a provider settlement report "
            "(the raw file as the body)",
            "reconciliation",
            _ROLES,
            response=UploadedOut,
            status=201,
            query=UploadQuery,
            body_media=("text/csv", "application/xml", "application/octet-stream"),
            also=(200,),
            errors=(400, 401, 403, 413, 415, 422),
        ),
        post_statement,
    ),
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/statements",
            "Imported statements and settlement reports, newest first",
            "reconciliation",
            _ROLES,
            response=StatementPageOut,
            query=StatementsQuery,
            errors=(400, 401, 403),
        ),
        get_statements,
    ),
    api_route(
        Operation(
            "get",
            "/v1/reconciliation/statements/{statement_id}",
            "One imported statement or settlement report",
            "reconciliation",
            _ROLES,
            response=StatementOut,
            errors=(401, 403, 404),
        ),
        get_statement,
    ),
]
