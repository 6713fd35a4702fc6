"""The asyncpg fast path on PostgreSQL: inside the unit of work's transaction, and short."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables
from payments.collection.storage.hot_path import PgAuditLog
from payments.collection.usecases import payments as service
from payments.domain.events import AuditEntry
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.factories import LIMITS, draft, portal_caller, respond

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


@pytest.mark.postgres_only
async def test_a_creation_is_one_statement_in_its_transaction(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    caller = await portal_caller(uow_factory, NOW)
    sent: list[str] = []

    @event.listens_for(engine.sync_engine, "checkout")
    def _log_queries(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda q: sent.append(q.query))

    created = await service.create_payment(
        uow_factory,
        caller=caller,
        draft=draft(),
        idempotency=service.IdempotentRequest("k", "f"),
        limits=LIMITS,
        respond=respond,
        now=NOW,
    )
    assert created.payment is not None
    await asyncio.sleep(0.01)  # asyncpg calls query loggers soon after, not during, a query
    assert [q.split()[0].rstrip(";") for q in sent] == ["BEGIN", "WITH", "COMMIT"]


@pytest.mark.postgres_only
async def test_an_overlong_value_is_refused_not_cut(uow_factory: SqlUnitOfWorkFactory) -> None:
    caller = await portal_caller(uow_factory, NOW)
    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await service.create_payment(
            uow_factory,
            caller=caller,
            draft=draft(reference="R" * 65),  # the column holds 64
            idempotency=service.IdempotentRequest("k", "f"),
            limits=LIMITS,
            respond=respond,
            now=NOW,
        )
