"""Who is signed in to the console: a signed, HttpOnly, SameSite=Strict session cookie.

Staff sign in with their personal API key (role treasury or admin). The cookie never holds
the key: it holds the key's id, agency, role and label, the SHA-256 digest the database
stores for the key (not a credential: the API hashes what it is given, so a digest cannot
be presented as a key), and when the session began. Every request looks the key up again by
that digest (through the app's few-second key cache), so a revoked key or a changed role
ends its sessions within seconds; a session ends ``SESSION_HOURS`` after sign-in whatever
happens (checked against the app's clock, and the cookie's signature expires with it).
Every sign-in attempt (refused ones too) and every sign-out is written to the audit log.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from payments.domain.access import Caller, Role, hash_api_key
from payments.http.requests import container
from payments.services.audit import WrongRole, sign_in_staff, sign_out_staff
from payments.settings import Settings

PREFIX = "/console"
COOKIE = "payments_console"
SESSION_HOURS = 8
SESSION_SECONDS = SESSION_HOURS * 3600
STAFF_ROLES = frozenset({Role.TREASURY, Role.ADMIN})
STAFF = "staff"  # session key of the signed-in person


class SignInRequired(Exception):
    """No live session: the console answers with the sign-in page (``reason``: a text key)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.reason = reason


@dataclass(frozen=True)
class Staff:
    key_id: int
    agency: str
    role: Role
    label: str
    agency_id: int | None = None

    @property
    def actor(self) -> str:
        """What the audit log and the item's history record: the same as over the API."""
        return f"apikey:{self.key_id}"


def middleware(settings: Settings) -> Middleware:
    # Sandbox and demo: a fresh random secret per process (sessions end on restart); outside
    # sandbox the app refuses to start without a real one (Settings.console_problems).
    secret = settings.session_secret or secrets.token_urlsafe(32)
    return Middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=COOKIE,
        max_age=SESSION_SECONDS,
        path=PREFIX,
        same_site="strict",
        https_only=settings.base_url.startswith("https://"),
    )


def session(request: Request) -> dict[str, Any]:
    found: dict[str, Any] = request.session
    return found


class NotStaff(Exception):
    """The key is valid but its role may not use the console."""


def _request_id(request: Request) -> str | None:
    found: str | None = getattr(request.state, "request_id", None)
    return found


def _client(request: Request) -> str | None:
    """The address a sign-in or sign-out came from, for its audit row."""
    return request.client.host if request.client else None


async def sign_in(request: Request, presented_key: str) -> Staff:
    """Check the key (NotAuthenticated when missing, unknown or revoked; NotStaff for another
    role), audit the attempt and, when it succeeds, start a fresh session for the key."""
    app = container(request)
    try:
        signed = await sign_in_staff(
            app.uow_factory,
            presented_key,
            roles=STAFF_ROLES,
            now=app.clock(),
            request_id=_request_id(request),
            client=_client(request),
        )
    except WrongRole as refused:
        raise NotStaff(refused.role.value) from None
    caller = signed.caller
    staff = Staff(
        caller.api_key_id,
        caller.agency_code,
        caller.role,
        signed.label or caller.actor,
        caller.agency_id,
    )
    kept_language = session(request).get("lang")
    session(request).clear()  # nothing from before sign-in survives (csrf token included)
    session(request)[STAFF] = {
        "id": staff.key_id,
        "agency": staff.agency,
        "role": staff.role.value,
        "label": staff.label,
        "digest": hash_api_key(presented_key),
        "since": int(app.clock().timestamp()),
    }
    if kept_language:
        session(request)["lang"] = kept_language
    return staff


async def end_session(request: Request) -> None:
    """Sign out at the person's request; audited when a live session ends (an ended or
    missing one has nobody to sign out)."""
    try:
        staff = await current_staff(request)
    except SignInRequired:  # current_staff has cleared what was left
        return
    app = container(request)
    try:
        await sign_out_staff(
            app.uow_factory,
            actor=staff.actor,
            key_id=staff.key_id,
            agency_id=staff.agency_id,
            now=app.clock(),
            request_id=_request_id(request),
            client=_client(request),
        )
    finally:  # ending a session is always safe: it ends even when the row cannot be written
        sign_out(request)


def sign_out(request: Request) -> None:
    kept_language = session(request).get("lang")
    session(request).clear()
    if kept_language:
        session(request)["lang"] = kept_language


async def current_staff(request: Request) -> Staff:
    """The signed-in person, re-checked; SignInRequired when there is none any more."""
    data = session(request).get(STAFF)
    if not isinstance(data, dict):
        raise SignInRequired()
    app = container(request)
    try:
        since = int(data["since"])
        key_id = int(data["id"])
        digest = str(data["digest"])
        label = str(data["label"])
    except (KeyError, TypeError, ValueError):
        sign_out(request)
        raise SignInRequired() from None
    if not 0 <= int(app.clock().timestamp()) - since <= SESSION_SECONDS:
        sign_out(request)
        raise SignInRequired("session_ended")
    caller = await _key(request, digest)
    if caller is None or caller.api_key_id != key_id or caller.role not in STAFF_ROLES:
        sign_out(request)
        raise SignInRequired("session_ended")
    return Staff(caller.api_key_id, caller.agency_code, caller.role, label, caller.agency_id)


async def _key(request: Request, digest: str) -> Caller | None:
    """The key behind a session, from the app's key cache or the database (None: revoked or
    gone). The cache is the API's: a revocation ends the session at once, as it stops the key
    on the API."""
    app = container(request)
    now = time.monotonic_ns()
    cached = app.keys.get(digest, now)
    if cached is not None:
        return cached
    ticket = app.keys.ticket()
    async with app.uow_factory() as uow:
        found = await uow.api_keys.by_hash(digest)
    if found is None or found[0].revoked_at is not None:
        return None
    caller = Caller.of(*found)
    app.keys.put(digest, caller, now, ticket)
    return caller
