"""Uploading a statement at the console: the treasury's statement or a provider's settlement
report that reached staff some other way, imported exactly as over the API
(``/v1/reconciliation/statements``): streamed to a temporary file under
``PAYMENTS_STATEMENT_MAX_BYTES``, all or nothing, the same bytes twice store nothing new.

A successful upload leads to the statement's summary, whose "Reconcile this day" runs its
business day at once (as ``POST /v1/reconciliation/runs`` does); otherwise the nightly run (or
``payments reconcile --date``) reads it.
"""

from __future__ import annotations

import sys

import structlog
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from payments.domain.errors import Conflict
from payments.entrypoints.api.statements import UploadQuery
from payments.entrypoints.console.csrf import (
    FIELD,
    CsrfRefused,
    check_origin,
    check_token,
    checked_form,
)
from payments.entrypoints.console.pages import path_id, staff_only
from payments.entrypoints.console.render import render
from payments.entrypoints.console.runs import reconciled
from payments.entrypoints.console.session import PREFIX, Staff
from payments.entrypoints.statement_upload import (
    MEDIA_FORMATS,
    SHOWN_LINE_ERRORS,
    SOURCES,
    InvalidFormat,
    choose_format,
    import_file,
)
from payments.http.problems import ApiError
from payments.http.requests import container, limited, media_type
from payments.reconcile.formats.statements import LineError, StatementError
from payments.reconcile.ports import StoredStatement
from payments.reconcile.sources.treasury import FORMATS
from payments.reconcile.usecases.reports import statement_detail

log = structlog.get_logger()
FORM_OVERHEAD = 64 * 1024  # the form's other fields and the multipart boundaries
EXTENSIONS = {".csv": "csv", ".xml": "camt"}


def _page(
    request: Request,
    staff: Staff,
    *,
    status_code: int = 200,
    error_key: str | None = None,
    detail: str = "",
    line_errors: list[LineError] | None = None,
    more_errors: int = 0,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "upload.html",
        {
            "staff": staff,
            "sources": SOURCES,
            "formats": FORMATS,
            "values": values or {},
            "error_key": error_key,
            "detail": detail,
            "line_errors": line_errors or [],
            "more_errors": more_errors,
            "limit_mb": container(request).settings.statement_max_bytes // (1024 * 1024),
        },
        status_code=status_code,
    )


@staff_only
async def upload_page(request: Request, staff: Staff) -> Response:
    return _page(request, staff)


def _fields(form: FormData) -> tuple[dict[str, str], UploadQuery | None]:
    """The form's values as typed, and as the API's upload query checks them (None: some
    field is wrong). An empty field is one not given."""
    values = {
        name: str(form.get(name) or "").strip() for name in ("business_date", "source", "format")
    }
    try:
        return values, UploadQuery.model_validate({k: v or None for k, v in values.items()})
    except ValidationError:
        return values, None


def _file_format(upload: UploadFile) -> str | None:
    """What the file says it is: its name's extension, else the browser's content type."""
    name = (upload.filename or "").lower()
    for extension, fmt in EXTENSIONS.items():
        if name.endswith(extension):
            return fmt
    return MEDIA_FORMATS.get(media_type(upload.content_type))


@staff_only
async def upload_post(request: Request, staff: Staff) -> Response:
    # A browser sends Origin (or at least Referer) with a form POST: one that says neither
    # is refused before hundreds of megabytes are read and spooled for its token to decide.
    if "origin" not in request.headers and "referer" not in request.headers:
        raise CsrfRefused("an upload without Origin or Referer")
    check_origin(request)
    if media_type(request.headers.get("content-type")) != "multipart/form-data":
        return _page(request, staff, status_code=400, error_key="upload_no_file")
    limit = container(request).settings.statement_max_bytes
    try:
        body = limited(request, limit + FORM_OVERHEAD)  # refused at once when declared larger
        form = await MultiPartParser(
            request.headers, body, max_files=1, max_fields=8, max_part_size=4096
        ).parse()
    except ApiError as exc:  # the body beyond the limit (413), the only one raised here
        if exc.status != 413:
            raise
        return _page(request, staff, status_code=413, error_key="upload_too_large")
    except (MultiPartException, ClientDisconnect):
        return _page(request, staff, status_code=400, error_key="upload_no_file")
    try:
        check_token(request, form.get(FIELD))
        return await _import(request, staff, form, limit)
    finally:
        await form.close()  # removes the spooled temporary file


async def _import(request: Request, staff: Staff, form: FormData, limit: int) -> Response:
    values, query = _fields(form)
    upload = form.get("file")
    if query is None:
        return _page(request, staff, status_code=400, error_key="upload_bad_fields", values=values)
    if not isinstance(upload, UploadFile) or not upload.size:
        return _page(request, staff, status_code=400, error_key="upload_no_file", values=values)
    if upload.size > limit:
        return _page(request, staff, status_code=413, error_key="upload_too_large", values=values)
    app = container(request)
    asked = query.format or _file_format(upload)
    try:
        fmt = choose_format(query.source, asked, "", app.settings.statement_format)
    except InvalidFormat:
        return _page(
            request, staff, status_code=400, error_key="upload_settlement_csv", values=values
        )
    try:
        imported = await import_file(
            app,
            upload.file,
            source=query.source,
            fmt=fmt,
            business_date=query.business_date,
            actor=staff.actor,
            size=upload.size,
        )
    except StatementError as error:
        log.info(
            "console_statement_rejected",
            actor=staff.actor,
            source=query.source,
            line_errors=error.line_error_count,
        )
        return _page(
            request,
            staff,
            status_code=422,
            error_key="upload_rejected",
            detail=error.detail if not error.line_errors else "",
            line_errors=error.line_errors[:SHOWN_LINE_ERRORS],
            more_errors=max(0, error.line_error_count - SHOWN_LINE_ERRORS),
            values=values,
        )
    log.info(
        "console_statement_uploaded",
        actor=staff.actor,
        source=query.source,
        statement=imported.statement.id,
        created=imported.created,
    )
    outcome = "uploaded" if imported.created else "again"
    return RedirectResponse(
        f"{PREFIX}/statements/{imported.statement.id}?{outcome}=1", status_code=303
    )


@staff_only
async def statement_page(request: Request, staff: Staff) -> Response:
    statement_id = path_id(request.path_params.get("statement_id"), "statement")
    stored = await statement_detail(container(request).uow_factory, statement_id)
    notice = next((k for k in ("uploaded", "again") if request.query_params.get(k) == "1"), None)
    return _statement(request, staff, stored, notice_key=f"statement_{notice}" if notice else None)


@staff_only
async def statement_reconcile(request: Request, staff: Staff) -> Response:
    """The statement page's "Reconcile this day": its business day, run as the signed-in person."""
    statement_id = path_id(request.path_params.get("statement_id"), "statement")
    await checked_form(request)
    stored = await statement_detail(container(request).uow_factory, statement_id)
    try:
        return await reconciled(request, staff, stored.business_date)
    except Conflict:  # e.g. a provider's report whose day has no treasury statement yet
        return _statement(
            request, staff, stored, status_code=409, error_key="reconcile_no_statement"
        )


def _statement(
    request: Request,
    staff: Staff,
    stored: StoredStatement,
    *,
    status_code: int = 200,
    notice_key: str | None = None,
    error_key: str | None = None,
) -> Response:
    return render(
        request,
        "statement.html",
        {"staff": staff, "statement": stored, "notice_key": notice_key, "error_key": error_key},
        status_code=status_code,
    )


routes = [
    Route("/statements/upload", upload_page, methods=["GET"]),
    # The console's body limit is the API's small one; an upload has its own, which the
    # handler enforces itself so as to answer with the page (and stream, never buffer).
    Route("/statements/upload", upload_post, methods=["POST"], max_body_size=sys.maxsize),
    Route("/statements/{statement_id}", statement_page, methods=["GET"]),
    # "Reconcile this day" posts to the page itself: its answer (an error) reloads as the page.
    Route("/statements/{statement_id}", statement_reconcile, methods=["POST"]),
]
