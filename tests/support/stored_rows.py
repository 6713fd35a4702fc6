"""How many rows the database holds, for tests that check a request stored nothing (or one
thing) more."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables
from payments.reconcile.storage.tables import (
    reconcile_settlement_lines,
    reconcile_statement_lines,
    reconcile_statements,
)
from payments.unit_of_work import SqlUnitOfWorkFactory


async def count_payments(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(tables.payments))).scalar_one()
        )


async def stored_counts(uow: SqlUnitOfWorkFactory) -> tuple[int, int, int]:
    """Statements, statement lines and settlement lines in the database."""
    async with uow() as unit:
        conn = unit.connection
        counts = []
        for table in (reconcile_statements, reconcile_statement_lines, reconcile_settlement_lines):
            counts.append(
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            )
    return counts[0], counts[1], counts[2]
