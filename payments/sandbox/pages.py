"""The simulators' own pages: bilingual, with their own templates (not the payer's checkout)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

TEMPLATES = Path(__file__).parent / "templates"
# A simulator page stands for a provider's: it sends no Referer back to the gateway's checkout
# and is never cached or framed, as the checkout pages are not.
PAGE_HEADERS = {
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@functools.cache
def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=TEMPLATES)


def page(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """A simulator page; ``context["lang"]`` ("vi" or "en", default "vi") sets its language."""
    full = {"lang": "vi", **context}
    return templates().TemplateResponse(request, name, full, headers=PAGE_HEADERS)
