"""Errors on payer pages answer with an HTML page in the payer's language, not problem+json.

The JSON handlers stay the one place that decides status codes and logs; for a page request we
keep their status (and ``Allow``/``Retry-After``) and show a message a citizen can read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import Response

from payments.entrypoints.web.rendering import page

log = structlog.get_logger()
PAGE_PREFIX = "/checkout/"
KEPT_HEADERS = ("allow", "retry-after")

Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_page(request: Request) -> bool:
    return request.url.path.startswith(PAGE_PREFIX)


def _texts(status: int) -> tuple[str, str]:
    if status == 404:
        return "not_found_title", "not_found"
    if status >= 500:
        return "error_title", "unexpected"
    return "error_title", "bad_request"


def for_pages(handler: Handler, *, outermost: bool = False) -> Handler:
    """``handler`` for the API; the same status as an HTML message on payer pages.

    ``outermost``: the catch-all handler, which Starlette runs outside our middleware, so the
    page sets ``X-Request-ID`` itself (elsewhere the middleware adds it).
    """

    async def handle(request: Request, exc: Exception) -> Response:
        answer = await handler(request, exc)
        if not is_page(request):
            return answer
        title, text = _texts(answer.status_code)
        request_id = getattr(request.state, "request_id", None)
        context = {"title_key": title, "text_key": text}
        try:
            # The id on the page is what a citizen can quote to the help desk.
            html = page(
                request,
                "message.html",
                {**context, "request_id": request_id},
                status_code=answer.status_code,
            )
        except Exception:  # the page itself may be what broke: the JSON answer still stands
            log.exception("error_page_failed", path=request.url.path)
            return answer
        for name in KEPT_HEADERS:
            if name in answer.headers:
                html.headers[name] = answer.headers[name]
        if outermost and request_id:
            html.headers["x-request-id"] = request_id
        return html

    return handle
