"""The shared per-key window counts (``rate_limit_windows``) and the lease's own transaction.

A lease is one statement on both databases: INSERT the window with ``used = block``, or on
conflict add ``block`` to it only while it is below the limit, RETURNING the new count. The
row lock PostgreSQL takes for the upsert (SQLite's single writer) makes concurrent leases
from several processes add up exactly; no row comes back when the window was full.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments.adapters.db import tables as t
from payments.adapters.db.unit_of_work import SqlUnitOfWork
from payments.services.rate_limit_ports import RateLimitWindows


class SqlRateLimitWindows:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lease(
        self, *, api_key_id: int, window_start: datetime, block: int, limit: int
    ) -> int | None:
        w = t.rate_limit_windows
        dialect: Any = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(w)
            .values(api_key_id=api_key_id, window_start=window_start, used=block)
            .on_conflict_do_update(
                index_elements=[w.c.api_key_id, w.c.window_start],
                set_={"used": w.c.used + block},
                where=w.c.used < limit,
            )
            .returning(w.c.used)
        )
        used_after = (await self._conn.execute(statement)).scalar_one_or_none()
        return None if used_after is None else int(used_after) - block

    async def purge(self, before: datetime) -> int:
        w = t.rate_limit_windows
        result = await self._conn.execute(delete(w).where(w.c.window_start < before))
        return int(result.rowcount)


class SqlRateLimitUnitOfWork:
    """A short transaction of its own: a connection from the pool (``Unavailable`` when none
    comes free in time, like any unit of work), the lease, the commit."""

    windows: RateLimitWindows

    def __init__(self, engine: AsyncEngine) -> None:
        self._inner = SqlUnitOfWork(engine)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        self.windows = SqlRateLimitWindows(self._inner.connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._inner.commit()


class SqlRateLimitUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlRateLimitUnitOfWork:
        return SqlRateLimitUnitOfWork(self.engine)
