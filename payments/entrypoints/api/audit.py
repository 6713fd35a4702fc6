"""/v1/audit-log: the audit trail of every state change and staff action, for administrators.

Newest first; the cursor is the last row's id, so pages never overlap and, as the log is
append-only, a reader walking back through it misses nothing that was there when it began.
Any problem with the query answers 422, listing every problem at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.domain.access import Role
from payments.domain.errors import FieldProblem
from payments.domain.events import AuditRecord
from payments.domain.resources import iso
from payments.domain.text import text_problem
from payments.entrypoints.api.operations import Operation, api_route
from payments.http.pages import page_body
from payments.http.problems import ApiError, validation_problems
from payments.http.requests import caller, container, decode_cursor
from payments.services.audit import audit_page
from payments.services.ports import AuditFilter

READERS = (Role.ADMIN,)
_TEXT_FIELDS = ("actor", "action", "action_prefix", "target_type", "target_id", "cursor")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Exactly this actor: apikey:<id> (a key, over the API or the console), "
        "cli, worker, anonymous (a console sign-in with an unknown key), ...",
    )
    action: str | None = Field(
        default=None, min_length=1, max_length=64, description="Exactly, e.g. refund.approved."
    )
    action_prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Actions starting with this, e.g. refund. or console.",
    )
    target_type: str | None = Field(
        default=None, min_length=1, max_length=32, description="e.g. payment, refund, api_key."
    )
    target_id: str | None = Field(default=None, min_length=1, max_length=64)
    occurred_from: AwareDatetime | None = Field(
        default=None, description="RFC 3339 time with offset; rows at or after it."
    )
    occurred_to: AwareDatetime | None = Field(
        default=None, description="RFC 3339 time with offset; rows before it."
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=128)

    @field_validator(*_TEXT_FIELDS)
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        problem = text_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("occurred_from", "occurred_to")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        try:
            return value.astimezone(UTC) if value is not None else None  # stored in UTC
        except OverflowError:
            raise ValueError("must fall between years 1 and 9999 in UTC") from None

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            cursor_id(value)
        return value


def cursor_id(cursor: str) -> int:
    """The id a cursor stands for; ValueError for anything next_cursor never was."""
    try:
        raw = decode_cursor(cursor)
    except ApiError:
        raw = ""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValueError("pass back next_cursor unchanged")
    return int(raw)


class AuditEntryOut(BaseModel):
    id: int
    object: Literal["audit_entry"]
    occurred_at: datetime = Field(description="UTC.")
    actor: str
    agency: str | None = Field(description="The agency concerned, if any (its code).")
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]
    request_id: str | None


class AuditPage(BaseModel):
    data: list[AuditEntryOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for older rows.")


def _invalid(problems: list[FieldProblem]) -> ApiError:
    return ApiError(
        422, "invalid-query", "Invalid query parameters", "the query string has errors", problems
    )


def _query(request: Request) -> AuditQuery:
    raw = {name: request.query_params.getlist(name)[-1] for name in request.query_params}
    try:
        return AuditQuery.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(validation_problems(exc)) from None


def _filter(query: AuditQuery) -> AuditFilter:
    start, end = query.occurred_from, query.occurred_to
    if start is not None and end is not None and end <= start:
        raise _invalid([FieldProblem("occurred_to", "must be after occurred_from")])
    return AuditFilter(
        actor=query.actor,
        action=query.action,
        action_prefix=query.action_prefix,
        target_type=query.target_type,
        target_id=query.target_id,
        occurred_from=start,
        occurred_to=end,
    )


def audit_json(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    return {
        "id": record.id,
        "object": "audit_entry",
        "occurred_at": iso(entry.occurred_at.astimezone(UTC)),
        "actor": entry.actor,
        "agency": record.agency_code,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "detail": dict(entry.detail),
        "request_id": entry.request_id,
    }


async def list_audit_log(request: Request) -> Response:
    await caller(request, *READERS)
    query = _query(request)
    rows, has_more = await audit_page(
        container(request).uow_factory,
        _filter(query),
        before_id=cursor_id(query.cursor) if query.cursor is not None else None,
        limit=query.limit,
    )
    last = str(rows[-1].id) if rows else None
    return JSONResponse(page_body([audit_json(r) for r in rows], has_more, last))


routes = [
    api_route(
        Operation(
            "get",
            "/v1/audit-log",
            "The audit trail (state changes, staff actions, console sign-ins), newest first",
            "audit",
            tuple(r.value for r in READERS),
            response=AuditPage,
            query=AuditQuery,
            errors=(401, 403, 422),
        ),
        list_audit_log,
    ),
]
