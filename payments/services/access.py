"""Authenticate API keys; agencies and their keys: create, list, revoke, rotate.

A key itself (the plain text) exists only in the answer that creates it: it is hashed for
storage, never logged, and no listing shows a hash. A revocation reaches every web process's
key cache when it commits (the ``ApiKeyRepository.revoke`` port).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from payments.domain.access import (
    MAX_KEY_ID,
    MAX_KEY_RATE_LIMIT,
    Agency,
    ApiKey,
    Caller,
    Role,
    display_prefix,
    hash_api_key,
    new_api_key,
)
from payments.domain.errors import Conflict, FieldProblem, InvalidInput, NotAuthenticated, NotFound
from payments.domain.events import AuditEntry
from payments.domain.pages import one_page
from payments.domain.text import normalise, text_problem
from payments.domain.urls import host_key
from payments.services.ports import UnitOfWork, UnitOfWorkFactory

MAX_LABEL = 200  # a key's label, as the API's schemas.Name
MAX_NOTE = 500  # a revocation's or rotation's note, as schemas.Description


async def authenticate(uow_factory: UnitOfWorkFactory, presented_key: str) -> Caller:
    async with uow_factory() as uow:
        found = await uow.api_keys.by_hash(hash_api_key(presented_key))
    if found is None:
        raise NotAuthenticated("unknown API key")
    key, agency = found
    if key.revoked_at is not None:
        raise NotAuthenticated("this API key has been revoked")
    return Caller.of(key, agency)


def clean_hosts(hosts: list[str]) -> frozenset[str]:
    """Lower-case host names, each bare or with the one port it may be reached on
    (``host:8443``, ``[::1]:8443``) as ``domain.urls`` reads them; URLs are refused, not
    guessed at."""
    cleaned: set[str] = set()
    bad: list[str] = []
    for raw in hosts:
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        key = _host_entry(entry)
        if key is None:
            bad.append(raw)
        else:
            cleaned.add(key)
    if bad:
        raise InvalidInput(
            [
                FieldProblem(
                    "allowed_hosts",
                    f"give host names, each with at most a port (host:8443), not URLs: "
                    f"{', '.join(bad)}",
                )
            ]
        )
    return frozenset(cleaned)


def _host_entry(entry: str) -> str | None:
    """The allow-list key for ``entry`` (``domain.urls``: ``host``, ``host:port`` or
    ``host:*``, IPv6 hosts bracketed when a port follows), None if it is not a host with an
    optional port."""
    if any(char in entry for char in "/@ ?#\\") or any(ord(c) < 0x21 for c in entry):
        return None
    if _is_ipv6(entry.strip("[]")):
        return entry.strip("[]")  # a bare IPv6 address
    if entry.endswith(":*"):
        host = _host_entry(entry[:-2])
        if host is None or host.endswith("]") or (":" in host and not _is_ipv6(host)):
            return None  # a port and then any port
        return f"[{host}]:*" if _is_ipv6(host) else f"{host}:*"
    try:
        parts = urlsplit(f"https://{entry}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or (port is not None and not 0 < port < 65536):
        return None
    return host_key(host, port, "https")  # host:443 is the host itself


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


async def create_agency(
    uow_factory: UnitOfWorkFactory,
    *,
    code: str,
    name: str,
    allowed_hosts: list[str],
    actor: str,
    now: datetime,
) -> Agency:
    problems = []
    if not code or not code.replace("-", "").replace("_", "").isalnum() or len(code) > 32:
        problems.append(FieldProblem("code", "must be 1 to 32 letters, digits, - or _"))
    if not name.strip():
        problems.append(FieldProblem("name", "must not be empty"))
    if problems:
        raise InvalidInput(problems)
    hosts = clean_hosts(allowed_hosts)
    async with uow_factory() as uow:
        if await uow.agencies.by_code(code) is not None:
            raise Conflict(f"agency {code!r} already exists")
        agency = await uow.agencies.add(code=code, name=name.strip(), allowed_hosts=hosts, now=now)
        await uow.audit.record(
            AuditEntry(
                action="agency.created",
                actor=actor,
                occurred_at=now,
                agency_id=agency.id,
                target_type="agency",
                target_id=agency.code,
                detail={"allowed_hosts": sorted(hosts)},
            )
        )
        await uow.commit()
    return agency


async def create_api_key(
    uow_factory: UnitOfWorkFactory,
    *,
    agency_code: str,
    role: Role,
    label: str | None,
    actor: str,
    now: datetime,
    rate_limit_per_minute: int | None = None,
    request_id: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the stored record and the plain key, which is never stored.

    ``rate_limit_per_minute``: the key's own limit (None: the gateway's; 0: no limit)."""
    problems = []
    if rate_limit_per_minute is not None and not 0 <= rate_limit_per_minute <= MAX_KEY_RATE_LIMIT:
        problems.append(FieldProblem("rate_limit_per_minute", f"must be 0 to {MAX_KEY_RATE_LIMIT}"))
    label = _text(label, "label", MAX_LABEL, problems)
    if problems:
        raise InvalidInput(problems)
    async with uow_factory() as uow:
        agency = await _agency(uow, agency_code)
        plain = new_api_key()
        key = await uow.api_keys.add(
            agency_id=agency.id,
            role=role,
            key_hash=hash_api_key(plain),
            prefix=display_prefix(plain),
            label=label,
            now=now,
            rate_limit_per_minute=rate_limit_per_minute,
        )
        await uow.audit.record(
            AuditEntry(
                action="apikey.created",
                actor=actor,
                occurred_at=now,
                agency_id=agency.id,
                target_type="api_key",
                target_id=str(key.id),
                detail={
                    "role": role.value,
                    "prefix": key.prefix,
                    "rate_limit_per_minute": rate_limit_per_minute,
                },
                request_id=request_id,
            )
        )
        await uow.commit()
    return key, plain


def _text(value: str | None, name: str, longest: int, problems: list[FieldProblem]) -> str | None:
    """``value`` as stored (NFC, trimmed; None for nothing), or a problem added for it."""
    if value is None:
        return None
    problem = text_problem(value)
    cleaned = normalise(value) if problem is None else value
    if problem is None and len(cleaned) > longest:
        problem = f"must be at most {longest} characters"
    if problem is not None:
        problems.append(FieldProblem(name, problem))
    return cleaned or None


@dataclass(frozen=True)
class ListedKey:
    """A key as a listing shows it, with the code of its agency."""

    key: ApiKey
    agency_code: str


async def list_agencies(uow_factory: UnitOfWorkFactory) -> Sequence[Agency]:
    """Every agency, by code."""
    async with uow_factory() as uow:
        return await uow.agencies.list()


async def list_api_keys(
    uow_factory: UnitOfWorkFactory, *, agency_code: str | None
) -> list[ListedKey]:
    """The agency's keys, or every agency's (None), newest first, revoked ones included: the
    operator's listing, which is never long enough to need pages."""
    async with uow_factory() as uow:
        agencies = {agency.id: agency.code for agency in await uow.agencies.list()}
        agency_id = None if agency_code is None else (await _agency(uow, agency_code)).id
        keys = await uow.api_keys.page(agency_id, before_id=None, limit=None)
    return [ListedKey(key, agencies[key.agency_id]) for key in keys]


async def api_key_page(
    uow_factory: UnitOfWorkFactory, caller: Caller, *, before_id: int | None, limit: int
) -> tuple[list[ApiKey], bool]:
    """One page of the caller's agency's keys, newest first, and whether more follow."""
    async with uow_factory() as uow:
        return await one_page(
            lambda n: uow.api_keys.page(caller.agency_id, before_id=before_id, limit=n), limit
        )


async def get_api_key(uow_factory: UnitOfWorkFactory, caller: Caller, key_id: int) -> ApiKey:
    """One of the caller's agency's keys; another agency's is as missing as an unknown one."""
    async with uow_factory() as uow:
        return await _key_of(uow, key_id, caller)


@dataclass(frozen=True)
class KeyChange:
    """Who revokes or rotates a key, and why."""

    actor: str
    now: datetime
    # An administrator over the API: only their own agency's keys, and the key the request
    # is made with only when they confirm it (locking oneself out by mistake is too easy).
    # None: the operator at the command line, any agency's key.
    caller: Caller | None = None
    note: str | None = None
    confirm_self: bool = False
    request_id: str | None = None


@dataclass(frozen=True)
class Rotated:
    old: ApiKey  # revoked by the rotation
    new: ApiKey  # the same agency, role, label and rate limit
    plain: str = field(repr=False)  # the new key itself: shown once, stored nowhere


async def revoke_api_key(uow_factory: UnitOfWorkFactory, key_id: int, change: KeyChange) -> ApiKey:
    """Revoke a key; a revoked key is answered as it is (nothing changes, nothing is audited
    again). Every process refuses the key from the commit on."""
    note = _note(change.note)
    async with uow_factory() as uow:
        key = await _key_of(uow, key_id, change.caller)
        if key.revoked_at is not None:
            return key
        _check_self(key, change, "revoke")
        if not await uow.api_keys.revoke(key.id, change.now):
            # Revoked by someone else meanwhile (whose commit we waited for): theirs stands.
            return await _key_of(uow, key_id, change.caller)
        await uow.audit.record(
            _key_audit("apikey.revoked", key, change, {"role": key.role.value, "note": note})
        )
        await uow.commit()
    return replace(key, revoked_at=change.now)


async def rotate_api_key(uow_factory: UnitOfWorkFactory, key_id: int, change: KeyChange) -> Rotated:
    """Replace a live key with a new one of the same agency, role, label and rate limit; the
    old key is revoked in the same transaction. A revoked key is not rotated (that would
    bring its access back): create a new key instead."""
    note = _note(change.note)
    async with uow_factory() as uow:
        old = await _key_of(uow, key_id, change.caller)
        _check_self(old, change, "rotate")
        if old.revoked_at is not None or not await uow.api_keys.revoke(old.id, change.now):
            raise Conflict(f"API key {key_id} is revoked; create a new key instead")
        plain = new_api_key()
        new = await uow.api_keys.add(
            agency_id=old.agency_id,
            role=old.role,
            key_hash=hash_api_key(plain),
            prefix=display_prefix(plain),
            label=old.label,
            now=change.now,
            rate_limit_per_minute=old.rate_limit_per_minute,
        )
        detail = {
            "role": old.role.value,
            "new_key_id": new.id,
            "new_prefix": new.prefix,
            "note": note,
        }
        await uow.audit.record(_key_audit("apikey.rotated", old, change, detail))
        await uow.commit()
    return Rotated(replace(old, revoked_at=change.now), new, plain)


def _note(note: str | None) -> str | None:
    problems: list[FieldProblem] = []
    cleaned = _text(note, "note", MAX_NOTE, problems)
    if problems:
        raise InvalidInput(problems)
    return cleaned


def _check_self(key: ApiKey, change: KeyChange, verb: str) -> None:
    if change.caller is not None and change.caller.api_key_id == key.id and not change.confirm_self:
        raise InvalidInput(
            [
                FieldProblem(
                    "confirm_self",
                    f"this is the key the request is made with: send true to {verb} it",
                )
            ]
        )


def _key_audit(
    action: str, key: ApiKey, change: KeyChange, detail: Mapping[str, object]
) -> AuditEntry:
    return AuditEntry(
        action=action,
        actor=change.actor,
        occurred_at=change.now,
        agency_id=key.agency_id,
        target_type="api_key",
        target_id=str(key.id),
        detail={"prefix": key.prefix, **detail},
        request_id=change.request_id,
    )


async def _key_of(uow: UnitOfWork, key_id: int, caller: Caller | None) -> ApiKey:
    """The key, if the caller may see it (an operator: any; a caller: their agency's)."""
    key = await uow.api_keys.get(key_id) if 0 < key_id <= MAX_KEY_ID else None
    if key is None or (caller is not None and key.agency_id != caller.agency_id):
        raise NotFound(f"no API key {key_id}")
    return key


async def _agency(uow: UnitOfWork, code: str) -> Agency:
    agency = await uow.agencies.by_code(code)
    if agency is None:
        raise NotFound(f"no agency with code {code!r}")
    return agency
