"""RFC 9457 problem+json responses; the only place that turns errors into status codes."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from payments.domain import errors as e

PROBLEM_TYPE_BASE = "https://payments.example.gov.vn/problems/"
log = structlog.get_logger()


class ApiError(Exception):
    """An edge-only error (malformed JSON, oversized body, bad header) with its status."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        problems: Sequence[e.FieldProblem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.problems = list(problems)
        self.headers = headers


_STATUS: list[tuple[type[e.PaymentsError], int, str]] = [
    (e.InvalidInput, 422, "invalid-request"),
    (e.NotAuthenticated, 401, "not-authenticated"),
    (e.NotPermitted, 403, "not-permitted"),
    (e.NotFound, 404, "not-found"),
    (e.ReferenceInUse, 409, "reference-in-use"),
    (e.InvalidTransition, 409, "invalid-transition"),
    (e.IdempotencyKeyReused, 422, "idempotency-key-reused"),
    (e.Conflict, 409, "conflict"),
    (e.PreconditionFailed, 412, "precondition-failed"),
    (e.Unavailable, 503, "unavailable"),
    (e.RateLimited, 429, "rate-limited"),
]


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    problems: Sequence[e.FieldProblem] = (),
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if problems:
        body["errors"] = [{"field": p.field, "message": p.message} for p in problems]
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def validation_problems(exc: ValidationError) -> list[e.FieldProblem]:
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        elif error["type"] == "missing":
            message = "is required"
        found.append(e.FieldProblem(field, message))
    return found


async def handle_payments_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.PaymentsError)
    status, slug = next(
        ((status, slug) for cls, status, slug in _STATUS if isinstance(exc, cls)),
        (400, "bad-request"),
    )
    extra: dict[str, object] = {}
    headers = None
    if isinstance(exc, e.ReferenceInUse):
        extra = {"existing_payment_id": exc.existing_payment_id}
    if isinstance(exc, e.NotAuthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="payments"'}
    if isinstance(exc, e.Unavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    if isinstance(exc, e.RateLimited):
        reset = str(exc.retry_after_seconds)
        headers = {
            "Retry-After": reset,
            "RateLimit-Limit": str(exc.limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": reset,
            "RateLimit-Policy": f"{exc.limit};w=60",
        }
    problems = exc.problems if isinstance(exc, e.InvalidInput) else ()
    return problem_response(
        request,
        status=status,
        slug=slug,
        title=exc.title,
        detail=exc.detail,
        problems=problems,
        headers=headers,
        extra=extra,
    )


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        problems=exc.problems,
        headers=exc.headers,
    )


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    return problem_response(
        request,
        status=exc.status_code,
        slug="not-found" if exc.status_code == 404 else f"http-{exc.status_code}",
        title=titles.get(exc.status_code, "Request failed"),
        detail=str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="something went wrong on our side; the request id identifies it in our logs",
    )
