"""The database driver under SQLAlchemy, for the bulk paths that speak asyncpg directly (COPY,
prepared statements) inside a unit of work's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def asyncpg_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``, inside the unit of work's transaction."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the unit of work's connection is closed")
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: a raw
        # statement before that would autocommit. Have the adapter open its transaction (what
        # its own first statement does), so that commit and rollback stay the unit of work's;
        # test_pg_hot_path holds this private call to that.
        adapter: Any = raw.dbapi_connection
        await adapter._start_transaction()
    return driver
