"""Authenticate API keys and check roles."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from urllib.parse import urlsplit

from payments.domain.access import (
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
from payments.domain.urls import host_key
from payments.services.ports import UnitOfWork, UnitOfWorkFactory


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
) -> tuple[ApiKey, str]:
    """Create a key; returns the stored record and the plain key, which is never stored.

    ``rate_limit_per_minute``: the key's own limit (None: the gateway's; 0: no limit)."""
    if rate_limit_per_minute is not None and rate_limit_per_minute < 0:
        raise InvalidInput([FieldProblem("rate_limit_per_minute", "must be 0 or more")])
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
            )
        )
        await uow.commit()
    return key, plain


async def _agency(uow: UnitOfWork, code: str) -> Agency:
    agency = await uow.agencies.by_code(code)
    if agency is None:
        raise NotFound(f"no agency with code {code!r}")
    return agency
