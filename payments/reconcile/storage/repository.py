"""The reconciliation's storage on SQLAlchemy Core, with bulk paths for PostgreSQL.

A day at national scale is a million statement lines and a million items. On PostgreSQL they
go in with ``COPY`` (asyncpg's ``copy_records_to_table``) and the day's payments come out
through a bare asyncpg fetch, on the connection that carries the unit of work's transaction
(see ``pg_hot_path``): SQLAlchemy's per-row cost would otherwise dominate the run. SQLite goes
through ``executemany`` in chunks; it is the embedded default, not the national scale.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.reconcile.storage.day_payments import SqlDayPayments
from payments.reconcile.storage.named import SqlNamedPayments
from payments.reconcile.storage.refunds import SqlDayRefunds
from payments.reconcile.storage.runs import SqlRuns
from payments.reconcile.storage.statements import SqlStatements

ADVISORY_SPACE = 0x5243  # "RC": the reconciliation's advisory locks, one per business day
SETTLEMENTS_KEY = 0  # in that space, beside the days (ordinals from 1): settlements vs refunds


class SqlReconciliation(SqlStatements, SqlDayPayments, SqlNamedPayments, SqlDayRefunds, SqlRuns):
    """The ``ReconciliationRepository``: statements and lines (``reconcile_statement_storage``),
    the day's payments (``reconcile_day_payments``), the payments unknown lines name
    (``reconcile_named``), the refunds checked against the reports (``reconcile_refunds``),
    runs and items (``reconcile_run_storage``), on one connection: the unit of work's."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    async def lock_day(self, business_date: date) -> None:
        if self._postgres:
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, :day)"),
                {"space": ADVISORY_SPACE, "day": business_date.toordinal()},
            )
        # SQLite: the unit of work's write transaction already serialises writers.

    async def lock_settlements(self, *, exclusive: bool) -> None:
        if self._postgres:
            lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            await self._conn.execute(
                text(f"SELECT {lock}(:space, :key)"),
                {"space": ADVISORY_SPACE, "key": SETTLEMENTS_KEY},
            )
        # SQLite: every transaction begins IMMEDIATE, so runs and refunds already take turns.
