"""Signing in and out, and the language of the console."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments.domain.errors import NotAuthenticated
from payments.entrypoints.console.csrf import checked_form
from payments.entrypoints.console.pages import (
    see_other,
)
from payments.entrypoints.console.render import render
from payments.entrypoints.console.session import (
    PREFIX,
    STAFF,
    NotStaff,
    SignInRequired,
    current_staff,
    end_session,
    session,
    sign_in,
)
from payments.entrypoints.console.texts import choose

log = structlog.get_logger()

SIGN_IN_REASONS = ("session_ended", "signed_out")


async def home(request: Request) -> Response:
    return see_other(f"{PREFIX}/runs")


async def sign_in_page(request: Request) -> Response:
    if isinstance(session(request).get(STAFF), dict):
        try:
            await current_staff(request)
        except SignInRequired:  # an ended session simply shows the form
            pass
        else:
            return see_other(f"{PREFIX}/runs")
    reason = request.query_params.get("reason")
    return render(
        request,
        "sign_in.html",
        {"notice_key": reason if reason in SIGN_IN_REASONS else None, "error_key": None},
    )


async def sign_in_post(request: Request) -> Response:
    form = await checked_form(request)
    key = str(form.get("api_key") or "").strip()
    try:
        staff = await sign_in(request, key)  # audited, a refusal too
    except NotAuthenticated:
        log.info("console_sign_in_refused", reason="bad_key")
        return render(
            request, "sign_in.html", {"error_key": "bad_key", "notice_key": None}, status_code=401
        )
    except NotStaff as refused:
        log.info("console_sign_in_refused", reason="wrong_role", role=str(refused))
        return render(
            request,
            "sign_in.html",
            {"error_key": "wrong_role", "notice_key": None},
            status_code=403,
        )
    log.info("console_signed_in", actor=staff.actor, role=staff.role.value)
    return see_other(f"{PREFIX}/runs")


async def sign_out_post(request: Request) -> Response:
    await checked_form(request)
    await end_session(request)
    return see_other(f"{PREFIX}/sign-in?reason=signed_out")


def _local_path(raw: object) -> str:
    """Where to go back to: only a console path of this site (no open redirect)."""
    if (
        isinstance(raw, str)
        and raw.startswith(f"{PREFIX}/")
        and "//" not in raw
        and "\\" not in raw
    ):
        return raw
    return f"{PREFIX}/runs"


async def language_post(request: Request) -> Response:
    form = await checked_form(request)
    session(request)["lang"] = choose(form.get("lang"))
    return see_other(_local_path(form.get("next")))


routes = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in_post, methods=["POST"]),
    Route("/sign-out", sign_out_post, methods=["POST"]),
    Route("/language", language_post, methods=["POST"]),
]
