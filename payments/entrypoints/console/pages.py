"""What every console page shares: ids and cursors from the URL, the signed-in check,
the redirect after a form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from payments.domain.errors import FieldProblem, InvalidInput, NotFound
from payments.entrypoints.console.session import (
    Staff,
    current_staff,
)
from payments.entrypoints.day_runs import FIRST_DAY, LAST_DAY

log = structlog.get_logger()


RUNS_PAGE = 20


ITEMS_PAGE = 50


def path_id(raw: str | None, what: str) -> int:
    """Ids are positive integers of sane length; anything else names nothing (404)."""
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 15 or int(raw) == 0:
        raise NotFound(f"no {what} {(raw or '')[:40]!r}")
    return int(raw)


def cursor(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise InvalidInput([FieldProblem(name, "pass the link's value back unchanged")])
    return int(raw)


Page = Callable[[Request, Staff], Awaitable[Response]]


def staff_only(page: Page) -> Callable[[Request], Awaitable[Response]]:
    """The page for a signed-in person (re-checked on every request), else the sign-in page."""

    async def handle(request: Request) -> Response:
        return await page(request, await current_staff(request))

    return handle


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def business_day(raw: str) -> date | None:
    """The day a form names (``YYYY-MM-DD``, as a date input sends it), if a sane one."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None
