"""Reading requests at the edge: the body (bounded, or streamed under a limit), the caller,
query parameters."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from payments.domain import strict_json
from payments.domain.access import Caller, Role, hash_api_key
from payments.domain.errors import FieldProblem, NotAuthenticated, NotFound, NotPermitted
from payments.domain.text import text_problem
from payments.http.container import Container
from payments.http.problems import ApiError, validation_problems
from payments.services.access import authenticate

M = TypeVar("M", bound=BaseModel)


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def read_body(request: Request, max_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in limited(request, max_bytes)])


def limited(request: Request, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The request's body as it streams in; a 413 ApiError at once when its Content-Length
    says more than ``max_bytes``, else as soon as more came."""
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > max_bytes
    ):
        raise _too_large(max_bytes)
    return _counted(request.stream(), max_bytes)


async def _counted(
    chunks: AsyncGenerator[bytes, None], max_bytes: int
) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        yield chunk


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413, "body-too-large", "Body too large", f"bodies are limited to {max_bytes} bytes"
    )


def media_type(raw: str | None) -> str:
    """A Content-Type without its parameters, lower case ("" when absent)."""
    return (raw or "").split(";")[0].strip().lower()


def require_json(request: Request) -> None:
    """A body is read as JSON only when it says it is JSON: a missing or other Content-Type is
    a 415 (a form or text body must not be taken for an API request)."""
    media = media_type(request.headers.get("content-type"))
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json, with 'Content-Type: application/json'",
        )


async def parse_json_body(request: Request, model: type[M]) -> M:
    require_json(request)
    body = await read_body(request, container(request).settings.max_body_bytes)
    if not body.strip():
        raise ApiError(400, "malformed-json", "Malformed JSON", "the request body is empty")
    return parse_json(body, model)


async def optional_json_body(request: Request, model: type[M]) -> M | None:
    """A body that may be left out (no body, or only whitespace); when sent, it is JSON."""
    raw = await read_body(request, container(request).settings.max_body_bytes)
    if not raw.strip():
        return None
    require_json(request)
    return parse_json(raw, model)


def parse_json(body: bytes, model: type[M]) -> M:
    try:
        strict_json.loads(body)
    except strict_json.DuplicateKey as exc:
        raise ApiError(
            400,
            "duplicate-key",
            "Duplicate JSON key",
            f"{exc}: send each field once",
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400, "malformed-json", "Malformed JSON", "the request body is not valid UTF-8 JSON"
        ) from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise ApiError(
                400, "malformed-json", "Malformed JSON", "the request body is not valid UTF-8 JSON"
            ) from None
        raise ApiError(
            422,
            "invalid-request",
            "Invalid request",
            "the request has errors",
            validation_problems(exc),
        ) from None


async def caller(request: Request, *roles: Role) -> Caller:
    """Resolve ``Authorization: Bearer <key>`` and check the caller holds one of ``roles``."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <api key>'")
    app = container(request)
    key_hash = hash_api_key(key.strip())
    now = time.monotonic_ns()
    found = app.keys.get(key_hash, now)
    if found is None:
        ticket = app.keys.ticket()
        found = await authenticate(app.uow_factory, key.strip())
        app.keys.put(key_hash, found, now, ticket)
    # Every authenticated request counts, a refused role too, and before any work is done:
    # a 429 on POST /v1/payments leaves its Idempotency-Key untouched.
    own = found.rate_limit_per_minute  # the key's own limit, else the gateway's (0: none)
    limit = app.settings.rate_limit_per_minute if own is None else own
    await app.rate_limits.admit(
        app.uow_factory, api_key_id=found.api_key_id, limit=limit, now=app.clock()
    )
    if roles and found.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise NotPermitted(f"this action needs the role {allowed}; the key has {found.role.value}")
    request.state.caller = found
    return found


def query_model(request: Request, model: type[M], multi: frozenset[str] = frozenset()) -> M:
    """Validate query parameters with a pydantic model (repeatable names listed in ``multi``)."""
    raw: dict[str, object] = {}
    for name in request.query_params:
        values = request.query_params.getlist(name)
        if name in multi:
            raw[name] = [part for value in values for part in value.split(",") if part]
        else:
            raw[name] = values[-1]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(
            400,
            "invalid-query",
            "Invalid query parameters",
            "the query string has errors",
            validation_problems(exc),
        ) from None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("v1:") or len(raw) > 64 or text_problem(raw):
        raise ApiError(
            400,
            "invalid-query",
            "Invalid query parameters",
            "the cursor is not valid",
            [FieldProblem("cursor", "pass back next_cursor unchanged")],
        )
    return raw[3:]


def aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(
            400,
            "invalid-query",
            "Invalid query parameters",
            f"{field} needs an offset",
            [FieldProblem(field, "must carry a time zone offset, e.g. +07:00")],
        )
    if value is not None:
        try:
            value.astimezone(UTC)  # stored and compared in UTC
        except OverflowError:
            raise ApiError(
                400,
                "invalid-query",
                "Invalid query parameters",
                f"{field} is out of range",
                [FieldProblem(field, "must fall between years 1 and 9999 in UTC")],
            ) from None
    return value


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
