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
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import date

import structlog
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from payments.domain.errors import Conflict
from payments.entrypoints.api.reconciliation import FIRST_DAY, LAST_DAY
from payments.entrypoints.api.requests import container
from payments.entrypoints.console.csrf import FIELD, check_origin, check_token, checked_form
from payments.entrypoints.console.render import render
from payments.entrypoints.console.routes import _id, reconciled, staff_only
from payments.entrypoints.console.session import PREFIX, Staff
from payments.entrypoints.statement_upload import (
    FORMATS,
    MEDIA_FORMATS,
    SHOWN_LINE_ERRORS,
    SOURCES,
    InvalidFormat,
    TooLarge,
    choose_format,
    declared_length,
    import_file,
    media_type,
)
from payments.reconcile.statements import LineError, StatementError
from payments.services.reconcile_ports import StoredStatement
from payments.services.reconcile_reports import statement_detail

log = structlog.get_logger()
FORM_OVERHEAD = 64 * 1024  # the form's other fields and the multipart boundaries
EXTENSIONS = {".csv": "csv", ".xml": "camt"}


async def _counted(chunks: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        yield chunk


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


def _fields(form: FormData) -> tuple[dict[str, str], date | None, list[str]]:
    """The form's values as typed, the business day, and which fields are wrong."""
    values = {
        name: str(form.get(name) or "").strip() for name in ("business_date", "source", "format")
    }
    wrong = []
    day: date | None = None
    try:
        day = date.fromisoformat(values["business_date"])
    except ValueError:
        wrong.append("business_date")
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        wrong.append("business_date")
        day = None
    if values["source"] not in SOURCES:
        wrong.append("source")
    if values["format"] not in ("", *FORMATS):
        wrong.append("format")
    return values, day, wrong


def _file_format(upload: UploadFile) -> str | None:
    """What the file says it is: its name's extension, else the browser's content type."""
    name = (upload.filename or "").lower()
    for extension, fmt in EXTENSIONS.items():
        if name.endswith(extension):
            return fmt
    return MEDIA_FORMATS.get(media_type(upload.content_type))


@staff_only
async def upload_post(request: Request, staff: Staff) -> Response:
    check_origin(request)
    app = container(request)
    limit = app.settings.statement_max_bytes
    declared = declared_length(request)
    if declared is not None and declared > limit + FORM_OVERHEAD:
        return _page(request, staff, status_code=413, error_key="upload_too_large")
    if media_type(request.headers.get("content-type")) != "multipart/form-data":
        return _page(request, staff, status_code=400, error_key="upload_no_file")
    parser = MultiPartParser(
        request.headers,
        _counted(request.stream(), limit + FORM_OVERHEAD),
        max_files=1,
        max_fields=8,
        max_part_size=4096,
    )
    try:
        form = await parser.parse()
    except TooLarge:
        return _page(request, staff, status_code=413, error_key="upload_too_large")
    except (MultiPartException, ClientDisconnect):
        return _page(request, staff, status_code=400, error_key="upload_no_file")
    try:
        check_token(request, form.get(FIELD))
        return await _import(request, staff, form, limit)
    finally:
        await form.close()  # removes the spooled temporary file


async def _import(request: Request, staff: Staff, form: FormData, limit: int) -> Response:
    values, day, wrong = _fields(form)
    upload = form.get("file")
    if wrong or day is None:
        return _page(request, staff, status_code=400, error_key="upload_bad_fields", values=values)
    if not isinstance(upload, UploadFile) or not upload.size:
        return _page(request, staff, status_code=400, error_key="upload_no_file", values=values)
    if upload.size > limit:
        return _page(request, staff, status_code=413, error_key="upload_too_large", values=values)
    app = container(request)
    asked = values["format"] or _file_format(upload)
    try:
        fmt = choose_format(values["source"], asked, "", app.settings.statement_format)
    except InvalidFormat:
        return _page(
            request, staff, status_code=400, error_key="upload_settlement_csv", values=values
        )
    try:
        imported = await import_file(
            app,
            upload.file,
            source=values["source"],
            fmt=fmt,
            business_date=day,
            actor=staff.actor,
            size=upload.size,
        )
    except StatementError as error:
        log.info(
            "console_statement_rejected",
            actor=staff.actor,
            source=values["source"],
            line_errors=len(error.line_errors),
        )
        return _page(
            request,
            staff,
            status_code=422,
            error_key="upload_rejected",
            detail=error.detail if not error.line_errors else "",
            line_errors=error.line_errors[:SHOWN_LINE_ERRORS],
            more_errors=max(0, len(error.line_errors) - SHOWN_LINE_ERRORS),
            values=values,
        )
    log.info(
        "console_statement_uploaded",
        actor=staff.actor,
        source=values["source"],
        statement=imported.statement.id,
        created=imported.created,
    )
    outcome = "uploaded" if imported.created else "again"
    return RedirectResponse(
        f"{PREFIX}/statements/{imported.statement.id}?{outcome}=1", status_code=303
    )


@staff_only
async def statement_page(request: Request, staff: Staff) -> Response:
    statement_id = _id(request.path_params.get("statement_id"), "statement")
    stored = await statement_detail(container(request).uow_factory, statement_id)
    notice = next((k for k in ("uploaded", "again") if request.query_params.get(k) == "1"), None)
    return _statement(request, staff, stored, notice_key=f"statement_{notice}" if notice else None)


@staff_only
async def statement_reconcile(request: Request, staff: Staff) -> Response:
    """The statement page's "Reconcile this day": its business day, run as the signed-in person."""
    statement_id = _id(request.path_params.get("statement_id"), "statement")
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
