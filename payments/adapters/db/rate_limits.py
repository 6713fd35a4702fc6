"""The shared per-key window counts (``rate_limit_windows``).

A lease is one statement on both databases: INSERT the window with ``used = block``, or on
conflict add ``block`` to it only while it is below the limit, RETURNING the new count. The
row lock PostgreSQL takes for the upsert (SQLite's single writer) makes concurrent leases
from several processes add up exactly; no row comes back when the window was full.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t


class SqlRateLimits:
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
