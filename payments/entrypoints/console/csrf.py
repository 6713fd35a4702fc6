"""Cross-site request forgery: every POST of the console carries the session's token.

The token is random per session, sent in a hidden form field and compared in constant time.
On top of that (and of the SameSite=Strict cookie), a POST whose Origin, or failing that its
Referer, names another site is refused.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from payments.entrypoints.console.session import session
from payments.http.requests import container

FIELD = "csrf_token"
KEY = "csrf"


class CsrfRefused(Exception):
    """A POST without the session's token, or from another origin: 403."""


def token(request: Request) -> str:
    """The session's token, made on first use."""
    current = session(request).get(KEY)
    if not isinstance(current, str) or not current:
        current = secrets.token_urlsafe(32)
        session(request)[KEY] = current
    return current


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _same_origin(request: Request) -> bool:
    ours = _origin(container(request).settings.base_url)
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() == ours  # "null" (sandboxed or privacy-stripped) is refused too
    referer = request.headers.get("referer")
    if referer is not None:
        return _origin(referer) == ours
    return True  # neither sent: the token alone decides


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its origin and token are checked (CsrfRefused otherwise)."""
    check_origin(request)
    form = await request.form()
    check_token(request, form.get(FIELD))
    return form


def check_origin(request: Request) -> None:
    """CsrfRefused when the POST comes from another site (before reading its body)."""
    if not _same_origin(request):
        raise CsrfRefused("cross-origin POST")


def check_token(request: Request, sent: object) -> None:
    """CsrfRefused unless ``sent`` is the session's token."""
    expected = session(request).get(KEY)
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        raise CsrfRefused("missing token")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused("wrong token")
