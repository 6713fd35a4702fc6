"""Rendering console pages: the console's own templates, texts and formatting."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from payments.entrypoints.console import formatting
from payments.entrypoints.console.csrf import FIELD, token
from payments.entrypoints.console.session import PREFIX, session
from payments.entrypoints.console.texts import TEXTS, choose

TEMPLATES = Path(__file__).parent / "templates"
# Staff pages show payer data: never cached, never framed, no third-party anything.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vnd"] = formatting.amount
    env.filters["moment"] = formatting.moment
    env.filters["day"] = formatting.day
    return env


def language(request: Request) -> str:
    return choose(session(request).get("lang"))


def _here(request: Request) -> str:
    """Where the language switch comes back to: this page, or for a form's answer the page
    the form was on (a POST-only address cannot be reloaded)."""
    if request.method != "GET":
        return request.url.path.removesuffix("/resolve")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    lang = language(request)
    full = {
        "lang": lang,
        "t": TEXTS[lang],
        "prefix": PREFIX,
        "csrf_field": FIELD,
        "csrf_token": token(request),
        "here": _here(request),
        "staff": None,
        **context,
    }
    html = environment().get_template(name).render(full)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)
