"""Authenticate API keys and check roles."""

from __future__ import annotations

import ipaddress
from datetime import datetime

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


def _clean_hosts(hosts: list[str]) -> frozenset[str]:
    """Bare, lower-case host names; URLs and host:port pairs are refused, not guessed at."""
    cleaned: set[str] = set()
    bad: list[str] = []
    for raw in hosts:
        host = raw.strip().lower().rstrip(".").strip("[]")
        if not host:
            continue
        if any(char in host for char in "/@ ?#") or (":" in host and not _is_ipv6(host)):
            bad.append(raw)
        cleaned.add(host)
    if bad:
        raise InvalidInput(
            [FieldProblem("allowed_hosts", f"give bare host names, not URLs: {', '.join(bad)}")]
        )
    return frozenset(cleaned)


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
    hosts = _clean_hosts(allowed_hosts)
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
