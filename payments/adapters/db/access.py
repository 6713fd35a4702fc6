"""Agencies and their API keys, in SQL.

On PostgreSQL a revocation also tells every web process, which caches keys for a few seconds:
``PgApiKeys.revoke`` sends a notification on ``REVOKED_CHANNEL`` in the revoking transaction,
which PostgreSQL delivers at commit (and not at all after a rollback) to every session
listening there (``payments/adapters/db/key_revocations.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.domain.access import Agency, ApiKey, Role

REVOKED_CHANNEL = "payments_api_key_revoked"


def _agency(row: Any) -> Agency:
    return Agency(
        id=row.id,
        code=row.code,
        name=row.name,
        allowed_hosts=frozenset(row.allowed_hosts),
        created_at=row.created_at,
    )


class SqlAgencies:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(
        self, *, code: str, name: str, allowed_hosts: frozenset[str], now: datetime
    ) -> Agency:
        result = await self._conn.execute(
            insert(t.agencies)
            .values(code=code, name=name, allowed_hosts=sorted(allowed_hosts), created_at=now)
            .returning(t.agencies.c.id)
        )
        return Agency(
            id=result.scalar_one(),
            code=code,
            name=name,
            allowed_hosts=allowed_hosts,
            created_at=now,
        )

    async def by_code(self, code: str) -> Agency | None:
        row = (
            await self._conn.execute(select(t.agencies).where(t.agencies.c.code == code))
        ).first()
        return _agency(row) if row else None

    async def by_id(self, agency_id: int) -> Agency | None:
        row = (
            await self._conn.execute(select(t.agencies).where(t.agencies.c.id == agency_id))
        ).first()
        return _agency(row) if row else None

    async def list(self) -> Sequence[Agency]:
        rows = await self._conn.execute(select(t.agencies).order_by(t.agencies.c.code))
        return [_agency(row) for row in rows]


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        agency_id=row.agency_id,
        role=Role(row.role),
        prefix=row.prefix,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        rate_limit_per_minute=row.rate_limit_per_minute,
    )


# Every column but the hash, which never leaves the adapter.
_KEY_COLUMNS = tuple(
    t.api_keys.c[name]
    for name in (
        "id",
        "agency_id",
        "role",
        "prefix",
        "label",
        "created_at",
        "revoked_at",
        "rate_limit_per_minute",
    )
)


class SqlApiKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(
        self,
        *,
        agency_id: int,
        role: Role,
        key_hash: str,
        prefix: str,
        label: str | None,
        now: datetime,
        rate_limit_per_minute: int | None = None,
    ) -> ApiKey:
        result = await self._conn.execute(
            insert(t.api_keys)
            .values(
                agency_id=agency_id,
                role=role.value,
                key_hash=key_hash,
                prefix=prefix,
                label=label,
                created_at=now,
                rate_limit_per_minute=rate_limit_per_minute,
            )
            .returning(t.api_keys.c.id)
        )
        return ApiKey(
            id=result.scalar_one(),
            agency_id=agency_id,
            role=role,
            prefix=prefix,
            label=label,
            created_at=now,
            revoked_at=None,
            rate_limit_per_minute=rate_limit_per_minute,
        )

    async def by_hash(self, key_hash: str) -> tuple[ApiKey, Agency] | None:
        k, a = t.api_keys, t.agencies
        row = (
            await self._conn.execute(
                select(
                    *_KEY_COLUMNS,
                    a.c.code,
                    a.c.name,
                    a.c.allowed_hosts,
                    a.c.created_at.label("agency_created_at"),
                )
                .join(a, a.c.id == k.c.agency_id)
                .where(k.c.key_hash == key_hash)
            )
        ).first()
        if row is None:
            return None
        agency = Agency(
            id=row.agency_id,
            code=row.code,
            name=row.name,
            allowed_hosts=frozenset(row.allowed_hosts),
            created_at=row.agency_created_at,
        )
        return _key(row), agency

    async def get(self, key_id: int) -> ApiKey | None:
        row = (
            await self._conn.execute(select(*_KEY_COLUMNS).where(t.api_keys.c.id == key_id))
        ).first()
        return _key(row) if row else None

    async def page(
        self, agency_id: int | None, *, before_id: int | None, limit: int | None
    ) -> Sequence[ApiKey]:
        k = t.api_keys.c
        stmt = select(*_KEY_COLUMNS).order_by(k.id.desc()).limit(limit)
        if agency_id is not None:
            stmt = stmt.where(k.agency_id == agency_id)
        if before_id is not None:
            stmt = stmt.where(k.id < before_id)
        return [_key(row) for row in await self._conn.execute(stmt)]

    async def revoke(self, key_id: int, now: datetime) -> bool:
        # Only a live key: of two transactions revoking one key, the second waits for the
        # first's row lock and then finds nothing left to do.
        result = await self._conn.execute(
            update(t.api_keys)
            .where(t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)


class PgApiKeys(SqlApiKeys):
    async def revoke(self, key_id: int, now: datetime) -> bool:
        revoked = await super().revoke(key_id, now)
        if revoked:
            await self._conn.execute(select(func.pg_notify(REVOKED_CHANNEL, str(key_id))))
        return revoked
