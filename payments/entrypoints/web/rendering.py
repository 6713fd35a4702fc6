"""Jinja2 templates and the small formatting rules of the payer-facing pages."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from payments.entrypoints.web.i18n import TEXTS, choose_language

VIETNAM_TIME = timezone(timedelta(hours=7))
TEMPLATES = Path(__file__).parent / "templates"
# Checkout URLs carry a capability: never leak them to a provider's page through Referer.
# "same-origin", not "no-referrer": under "no-referrer" browsers send ``Origin: null`` on our
# own form POST, and the provider choice refuses a foreign Origin (see checkout._same_origin).
PAGE_HEADERS = {
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@functools.cache
def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=TEMPLATES)


def language(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def vietnam_time(moment: datetime) -> str:
    local = moment.astimezone(VIETNAM_TIME)
    return f"{local:%H:%M} {local:%d/%m/%Y}"


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (existing ones kept)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def help_contact(request: Request) -> str | None:
    """The configured help contact (PAYMENTS_HELP_CONTACT); None: the page names the agency.

    Read defensively: an error page may be drawn for a request the app never set up."""
    container = getattr(request.app.state, "container", None)
    settings = getattr(container, "settings", None)
    contact: str | None = getattr(settings, "payer_help_contact", None)
    return contact


def page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    lang = context.get("lang") or language(request)
    other = "en" if lang == "vi" else "vi"
    full = {
        "lang": lang,
        "t": TEXTS[lang],
        "switch_url": with_query(request.url.path, lang=other),
        "help_contact": help_contact(request),
        **context,
    }
    return templates().TemplateResponse(
        request, name, full, status_code=status_code, headers=PAGE_HEADERS
    )


def message(
    request: Request,
    title_key: str,
    text_key: str,
    *,
    status_code: int,
    lang: str | None = None,
    next_key: str | None = None,
) -> HTMLResponse:
    """A page that cannot show a payment: what happened, and ``next_key``, what to do now."""
    return page(
        request,
        "message.html",
        {
            "title_key": title_key,
            "text_key": text_key,
            "next_key": next_key,
            **({"lang": lang} if lang else {}),
        },
        status_code=status_code,
    )
