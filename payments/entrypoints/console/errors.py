"""Errors on console pages answer as console pages, in the reader's language.

The app's handlers answer problem+json (or a payer's page under /checkout/); the console
wraps its own routes so that a refused form, a missing run or a bug shows a page staff can
read, with the request id to quote. Exceptions never leave the console as JSON.
"""

from __future__ import annotations

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payments.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    Unavailable,
)
from payments.entrypoints.console.csrf import CsrfRefused
from payments.entrypoints.console.render import render
from payments.entrypoints.console.session import PREFIX, SignInRequired

log = structlog.get_logger()


def _message(exc: Exception) -> tuple[int, str, str]:
    """(status, title key, text key) for an exception raised by a console page."""
    if isinstance(exc, CsrfRefused):
        return 403, "forbidden_title", "csrf_failed"
    if isinstance(exc, NotPermitted):
        return 403, "forbidden_title", "not_permitted"
    if isinstance(exc, NotFound):
        return 404, "not_found_title", "not_found"
    if isinstance(exc, Conflict):
        return 409, "error_title", "conflict"
    if isinstance(exc, InvalidInput):
        return 400, "error_title", "bad_request"
    if isinstance(exc, Unavailable):  # busy, not broken: nothing was done, retry later
        return 503, "busy_title", "unavailable"
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, "not_found_title", "not_found"
        return exc.status_code, "error_title", "bad_request"
    return 500, "error_title", "unexpected"


class ConsoleErrors:
    """ASGI middleware around the console's router (inside its session middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # Starlette's routes look up the app's exception handlers in the scope and would answer
        # problem+json themselves; without them every error comes up to this middleware.
        inner = {**scope, "starlette.exception_handlers": ({}, {})}
        try:
            await self.app(inner, receive, watch)
        except Exception as exc:
            if started:  # too late for a page: a streamed CSV broke halfway
                raise
            response = self._answer(Request(scope), exc)
            await response(scope, receive, send)

    def _answer(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, SignInRequired | NotAuthenticated):
            reason = exc.reason if isinstance(exc, SignInRequired) else None
            target = f"{PREFIX}/sign-in" + (f"?reason={reason}" if reason else "")
            return RedirectResponse(target, status_code=303)
        status, title, text = _message(exc)
        if isinstance(exc, Unavailable):
            log.warning("console_unavailable", path=request.url.path, reason=str(exc))
        elif status >= 500:
            log.exception("console_page_failed", path=request.url.path)
        else:
            log.info("console_refused", path=request.url.path, status=status, reason=str(exc))
        request_id = request.scope.get("state", {}).get("request_id")
        response = render(
            request,
            "message.html",
            {"title_key": title, "text_key": text, "request_id": request_id},
            status_code=status,
        )
        if isinstance(exc, HTTPException) and exc.headers and "allow" in exc.headers:
            response.headers["allow"] = exc.headers["allow"]
        if isinstance(exc, Unavailable):
            response.headers["retry-after"] = str(exc.retry_after_seconds)
        return response
