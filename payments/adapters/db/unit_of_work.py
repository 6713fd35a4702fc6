"""The SQLAlchemy unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments.adapters.db.attempts import SqlAttempts, SqlCallbackLog, SqlCredits
from payments.adapters.db.notifications import SqlNotifications
from payments.adapters.db.pg_hot_path import (
    PgAuditLog,
    PgPaymentEvents,
    PgPayments,
)
from payments.adapters.db.reconciliation import SqlReconciliation
from payments.adapters.db.refunds import SqlRefunds
from payments.adapters.db.repositories import (
    SqlAgencies,
    SqlApiKeys,
    SqlAuditLog,
    SqlIdempotency,
    SqlPaymentEvents,
    SqlPayments,
)
from payments.adapters.db.scheduled_runs import SqlScheduledRuns
from payments.domain.errors import Unavailable
from payments.ledger.ports import LedgerStore
from payments.ledger.sql_store import SqlLedgerStore
from payments.services.ports import (
    AgencyRepository,
    ApiKeyRepository,
    AttemptRepository,
    AuditLog,
    CallbackLog,
    CreditRepository,
    IdempotencyRepository,
    NotificationRepository,
    PaymentEventRepository,
    PaymentRepository,
    ScheduleRepository,
)
from payments.services.reconcile_ports import ReconciliationRepository
from payments.services.refund_ports import RefundRepository


class SqlUnitOfWork:
    agencies: AgencyRepository
    api_keys: ApiKeyRepository
    payments: PaymentRepository
    events: PaymentEventRepository
    idempotency: IdempotencyRepository
    audit: AuditLog
    ledger: LedgerStore
    attempts: AttemptRepository
    callbacks: CallbackLog
    credits: CreditRepository
    notifications: NotificationRepository
    schedule: ScheduleRepository
    refunds: RefundRepository
    reconciliation: ReconciliationRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        """For adapters that join the same transaction (the ledger store, for one)."""
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        try:
            conn = await self._engine.connect()
        except PoolTimeout as exc:
            raise Unavailable(
                "every database connection is busy; retry in a moment (nothing was done)"
            ) from exc
        try:
            await conn.begin()
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.agencies = SqlAgencies(conn)
        self.api_keys = SqlApiKeys(conn)
        if conn.dialect.name == "postgresql":
            self.payments = PgPayments(conn)
            self.events = PgPaymentEvents(conn)
            self.audit = PgAuditLog(conn)
        else:
            self.payments = SqlPayments(conn)
            self.events = SqlPaymentEvents(conn)
            self.audit = SqlAuditLog(conn)
        self.idempotency = SqlIdempotency(conn)
        self.ledger = SqlLedgerStore(conn)
        self.attempts = SqlAttempts(conn)
        self.callbacks = SqlCallbackLog(conn)
        self.credits = SqlCredits(conn)
        self.notifications = SqlNotifications(conn)
        self.schedule = SqlScheduledRuns(conn)
        self.refunds = SqlRefunds(conn)
        self.reconciliation = SqlReconciliation(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()  # nothing is kept unless commit() was called
        finally:
            await conn.close()

    async def commit(self) -> None:
        await self.connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
