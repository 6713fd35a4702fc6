"""The audit trail read back (``GET /v1/audit-log``), and staff signing in to the console
and out, each written to it.

Every sign-in attempt is recorded, a refused one too, and every sign-out; the key itself
never is. An attempt names the key's id and display prefix (``display_prefix``, which the
key listing shows anyway), or, for a key the gateway does not know, the prefix only when
what was typed has the shape of one of our keys (anything else may be a password pasted
by mistake).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.domain.access import KEY_PREFIX, Caller, Role, display_prefix, hash_api_key
from payments.domain.errors import NotAuthenticated, NotPermitted
from payments.domain.events import AuditEntry, AuditRecord
from payments.domain.pages import one_page
from payments.services.ports import AuditFilter, UnitOfWorkFactory

SIGNED_IN = "console.signed_in"
SIGN_IN_REFUSED = "console.sign_in_refused"
SIGNED_OUT = "console.signed_out"
ANONYMOUS = "anonymous"  # the actor of an attempt with a key the gateway does not know
MAX_KEY_LENGTH = 200
# What new_api_key makes: the prefix and 32 random bytes in URL-safe base64 (43 characters).
_KEY_SHAPE = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")


async def audit_page(
    uow_factory: UnitOfWorkFactory, flt: AuditFilter, *, before_id: int | None, limit: int
) -> tuple[Sequence[AuditRecord], bool]:
    """One page of the audit log, newest first, and whether more pages follow."""
    async with uow_factory() as uow:
        return await one_page(lambda n: uow.audit.page(flt, before_id=before_id, limit=n), limit)


class WrongRole(NotPermitted):
    """The key is valid, but its role may not sign in here."""

    def __init__(self, role: Role) -> None:
        super().__init__(f"a {role.value} key may not sign in to the console")
        self.role = role


@dataclass(frozen=True)
class SignedIn:
    caller: Caller
    label: str | None


async def sign_in_staff(
    uow_factory: UnitOfWorkFactory,
    presented_key: str,
    *,
    roles: frozenset[Role],
    now: datetime,
    request_id: str | None = None,
    client: str | None = None,
) -> SignedIn:
    """Check a key typed into the console's sign-in form and audit the attempt.

    Raises NotAuthenticated (no key, an unknown or a revoked one) or WrongRole (a role not
    in ``roles``), once the refusal is recorded."""
    seen: dict[str, Any] = {"client": client} if client else {}
    refusal: NotAuthenticated | WrongRole | None = None
    signed: SignedIn | None = None
    async with uow_factory() as uow:
        found = None
        if presented_key and len(presented_key) <= MAX_KEY_LENGTH:
            found = await uow.api_keys.by_hash(hash_api_key(presented_key))
        if found is None:
            reason = "no_key" if not presented_key else "unknown_key"
            shaped = _KEY_SHAPE.fullmatch(presented_key) is not None
            prefix = {"key_prefix": display_prefix(presented_key)} if shaped else {}
            entry = AuditEntry(
                action=SIGN_IN_REFUSED,
                actor=ANONYMOUS,
                occurred_at=now,
                detail={"reason": reason, **prefix, **seen},
                request_id=request_id,
            )
            refusal = NotAuthenticated("unknown API key")
        else:
            key, agency = found
            caller = Caller.of(key, agency)
            detail: dict[str, Any] = {"key_prefix": key.prefix, "role": key.role.value, **seen}
            if key.revoked_at is not None:
                detail["reason"] = "revoked_key"
                refusal = NotAuthenticated("this API key has been revoked")
            elif key.role not in roles:
                detail["reason"] = "wrong_role"
                refusal = WrongRole(key.role)
            else:
                signed = SignedIn(caller, key.label)
            entry = AuditEntry(
                action=SIGNED_IN if signed is not None else SIGN_IN_REFUSED,
                actor=caller.actor,
                occurred_at=now,
                agency_id=agency.id,
                target_type="api_key",
                target_id=str(key.id),
                detail=detail,
                request_id=request_id,
            )
        await uow.audit.record(entry)
        await uow.commit()
    if signed is None:
        raise refusal or NotAuthenticated("unknown API key")
    return signed


async def sign_out_staff(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: str,
    key_id: int,
    agency_id: int | None,
    now: datetime,
    request_id: str | None = None,
    client: str | None = None,
) -> None:
    """Record that the person signed in with key ``key_id`` signed out of the console."""
    async with uow_factory() as uow:
        await uow.audit.record(
            AuditEntry(
                action=SIGNED_OUT,
                actor=actor,
                occurred_at=now,
                agency_id=agency_id,
                target_type="api_key",
                target_id=str(key_id),
                detail={"client": client} if client else {},
                request_id=request_id,
            )
        )
        await uow.commit()
