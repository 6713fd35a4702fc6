"""The asyncpg fast path on PostgreSQL stays inside the unit of work's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables
from payments.adapters.db.pg_hot_path import PgAuditLog
from payments.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from payments.domain.events import AuditEntry

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


async def audit_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.execute(select(func.count()).select_from(tables.audit_log))
        return int(count.scalar_one())


@pytest.mark.postgres_only
async def test_a_raw_first_statement_still_rolls_back(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    entry = AuditEntry(action="test.written", actor="test", occurred_at=NOW, detail={"ý": 1})
    async with uow_factory() as uow:
        assert isinstance(uow.audit, PgAuditLog)
        await uow.audit.record(entry)  # the very first statement of the transaction
    assert await audit_rows(engine) == 0  # no commit, nothing kept
    async with uow_factory() as uow:
        await uow.audit.record(entry)
        await uow.commit()
    assert await audit_rows(engine) == 1
