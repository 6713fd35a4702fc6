"""/v1/api-keys: an agency's administrators manage its API keys.

Only the caller's own agency's keys: another agency's key answers 404, like a missing one. A
new key (created or rotated) is in its answer once, never again: it is stored hashed, and
the answer says ``Cache-Control: no-store``. Revoking or rotating the key the request is made
with needs ``"confirm_self": true``, so that an administrator does not lock themselves out by
a slip of the id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.domain.access import MAX_KEY_ID, MAX_KEY_RATE_LIMIT, ApiKey, Caller, Role
from payments.domain.errors import FieldProblem, NotFound
from payments.domain.resources import api_key_resource
from payments.entrypoints.api import schemas
from payments.entrypoints.api.operations import Operation, api_route
from payments.http.pages import page_body
from payments.http.problems import ApiError
from payments.http.requests import (
    caller,
    container,
    decode_cursor,
    optional_json_body,
    parse_json_body,
    query_model,
)
from payments.services import access as service

ADMINS = (Role.ADMIN,)
RoleName = Literal["portal", "finance", "treasury", "admin"]
# The plain key is in the answer: no cache on the way may keep it.
NO_STORE = {"Cache-Control": "no-store"}


# --- request and response models ---------------------------------------------------------------


class CreateApiKey(schemas.Strict):
    role: RoleName
    label: schemas.Name | None = Field(
        default=None, description="Free text to recognise the key by, e.g. its holder's name."
    )
    rate_limit_per_minute: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_KEY_RATE_LIMIT,
        description="The key's own requests a minute (omitted: the gateway's; 0: no limit).",
    )


class KeyChangeIn(schemas.Strict):
    note: schemas.Description | None = Field(
        default=None, description="Why; kept in the audit log."
    )
    confirm_self: StrictBool = Field(
        default=False,
        description="Required (true) to revoke or rotate the key this request is made with.",
    )


class ApiKeyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=128)


class ApiKeyOut(BaseModel):
    id: int
    object: Literal["api_key"]
    agency: str = Field(description="The agency's code.")
    role: RoleName
    prefix: str = Field(description="The key's first characters, to recognise it by.")
    label: str | None
    rate_limit_per_minute: int | None = Field(
        description="The key's own requests a minute; null: the gateway's; 0: no limit."
    )
    created_at: datetime = Field(description="UTC.")
    revoked_at: datetime | None = Field(description="UTC; a revoked key is refused (401).")


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The key itself, shown this once: it is stored only hashed.")
    replaces: int | None = Field(
        description="After a rotation: the id of the key it replaces, revoked with it."
    )


class ApiKeyPage(BaseModel):
    data: list[ApiKeyOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for older keys.")


# --- presenters and request parts ------------------------------------------------------------


def _new_key(key: ApiKey, agency_code: str, plain: str, replaces: int | None) -> Response:
    body = {**api_key_resource(key, agency_code), "key": plain, "replaces": replaces}
    headers = {**NO_STORE, "Location": f"/v1/api-keys/{key.id}"}
    return JSONResponse(body, status_code=201, headers=headers)


def _key_id(request: Request) -> int:
    raw: str = request.path_params["key_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise NotFound(f"no API key {raw!r}")
    return int(raw)


def _before_id(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    raw = decode_cursor(cursor)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_KEY_ID:
        raise ApiError(
            400,
            "invalid-query",
            "Invalid query parameters",
            "the cursor is not valid",
            [FieldProblem("cursor", "pass back next_cursor unchanged")],
        )
    return int(raw)


def _request_id(request: Request) -> str | None:
    found: str | None = getattr(request.state, "request_id", None)
    return found


async def _change(request: Request) -> tuple[Caller, service.KeyChange]:
    who = await caller(request, *ADMINS)
    body = await optional_json_body(request, KeyChangeIn) or KeyChangeIn()
    return who, service.KeyChange(
        actor=who.actor,
        now=container(request).clock(),
        caller=who,
        note=body.note,
        confirm_self=body.confirm_self,
        request_id=_request_id(request),
    )


# --- handlers ---------------------------------------------------------------------------------


async def list_keys(request: Request) -> Response:
    who = await caller(request, *ADMINS)
    query = query_model(request, ApiKeyQuery)
    rows, has_more = await service.api_key_page(
        container(request).uow_factory, who, before_id=_before_id(query.cursor), limit=query.limit
    )
    data = [api_key_resource(key, who.agency_code) for key in rows]
    return JSONResponse(page_body(data, has_more, str(rows[-1].id) if rows else None))


async def create_key(request: Request) -> Response:
    who = await caller(request, *ADMINS)
    body = await parse_json_body(request, CreateApiKey)
    app = container(request)
    key, plain = await service.create_api_key(
        app.uow_factory,
        agency_code=who.agency_code,
        role=Role(body.role),
        label=body.label,
        actor=who.actor,
        now=app.clock(),
        rate_limit_per_minute=body.rate_limit_per_minute,
        request_id=_request_id(request),
    )
    return _new_key(key, who.agency_code, plain, None)


async def get_key(request: Request) -> Response:
    who = await caller(request, *ADMINS)
    key = await service.get_api_key(container(request).uow_factory, who, _key_id(request))
    return JSONResponse(api_key_resource(key, who.agency_code))


async def revoke_key(request: Request) -> Response:
    who, change = await _change(request)
    app = container(request)
    key = await service.revoke_api_key(app.uow_factory, _key_id(request), change)
    app.keys.clear()  # this process at once, not when its own notification arrives
    return JSONResponse(api_key_resource(key, who.agency_code))


async def rotate_key(request: Request) -> Response:
    who, change = await _change(request)
    app = container(request)
    rotated = await service.rotate_api_key(app.uow_factory, _key_id(request), change)
    app.keys.clear()  # this process at once, as in revoke_key
    return _new_key(rotated.new, who.agency_code, rotated.plain, rotated.old.id)


_ROLES = tuple(r.value for r in ADMINS)
_CHANGE_ERRORS = (400, 401, 403, 404, 413, 415, 422)

routes = [
    api_route(
        Operation(
            "get",
            "/v1/api-keys",
            "The agency's API keys, newest first (revoked ones included)",
            "api-keys",
            _ROLES,
            response=ApiKeyPage,
            query=ApiKeyQuery,
            errors=(400, 401, 403),
        ),
        list_keys,
    ),
    api_route(
        Operation(
            "post",
            "/v1/api-keys",
            "Create an API key for the agency (the key is in this answer only)",
            "api-keys",
            _ROLES,
            request=CreateApiKey,
            response=NewApiKeyOut,
            status=201,
            errors=(400, 401, 403, 413, 415, 422),
        ),
        create_key,
    ),
    api_route(
        Operation(
            "get",
            "/v1/api-keys/{key_id}",
            "Read one of the agency's API keys",
            "api-keys",
            _ROLES,
            response=ApiKeyOut,
            errors=(401, 403, 404),
        ),
        get_key,
    ),
    api_route(
        Operation(
            "post",
            "/v1/api-keys/{key_id}/revoke",
            "Revoke an API key: refused at once by every process; revoking twice is harmless",
            "api-keys",
            _ROLES,
            request=KeyChangeIn,
            request_required=False,
            response=ApiKeyOut,
            errors=_CHANGE_ERRORS,
        ),
        revoke_key,
    ),
    api_route(
        Operation(
            "post",
            "/v1/api-keys/{key_id}/rotate",
            "Replace an API key with a new one (same role, label and rate limit), revoking it",
            "api-keys",
            _ROLES,
            request=KeyChangeIn,
            request_required=False,
            response=NewApiKeyOut,
            status=201,
            errors=(*_CHANGE_ERRORS, 409),
        ),
        rotate_key,
    ),
]
