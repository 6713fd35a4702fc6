"""The SQLAlchemy unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar, cast, overload

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments.adapters.db.access import PgApiKeys, SqlAgencies, SqlApiKeys
from payments.adapters.db.audit_log import SqlAuditLog
from payments.adapters.db.idempotency import SqlIdempotency
from payments.adapters.db.rate_limits import SqlRateLimits
from payments.adapters.db.scheduled_runs import SqlScheduledRuns
from payments.collection.storage.attempts import SqlAttempts, SqlCallbackLog, SqlCredits
from payments.collection.storage.hot_path import (
    PgAuditLog,
    PgPaymentEvents,
    PgPayments,
)
from payments.collection.storage.payments import SqlPaymentEvents, SqlPayments
from payments.domain.errors import Unavailable
from payments.ledger.ports import LedgerStore
from payments.ledger.sql_store import SqlLedgerStore
from payments.notifications.storage import SqlNotifications
from payments.reconcile.ports import ReconcileWork, ReconciliationRepository
from payments.reconcile.storage.repository import SqlReconciliation
from payments.refunds.ports import RefundRepository
from payments.refunds.storage.repository import SqlRefunds
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
    RateLimitRepository,
    ScheduleRepository,
)

BUSY = "every database connection is busy; retry in a moment (nothing was done)"
# SQLSTATEs that mean the server is there but takes no connection now: too_many_connections
# (max_connections, or a role's or database's connection limit), cannot_connect_now (starting
# up, shutting down, in recovery). An unknown database or a refused password is not here:
# configuration, not a moment's wait.
BUSY_SERVER_STATES = frozenset({"53300", "57P03"})


def _cannot_connect(exc: BaseException) -> bool:
    """True for a connection that failed for want of a server able to take it."""
    if isinstance(exc, ConnectionError | TimeoutError):  # refused, reset, no answer in time
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in BUSY_SERVER_STATES


def _sqlite_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked": another connection kept writing past
    busy_timeout (an import or a run holds the write lock)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    return (
        isinstance(orig, sqlite3.OperationalError) and orig.sqlite_errorcode == sqlite3.SQLITE_BUSY
    )


R = TypeVar("R")


class Work(ReconcileWork, Protocol):
    """Every repository in one transaction: what the entrypoints, the worker and the tests hold.
    Each use case asks only for its own part (``UnitOfWork``, ``RefundWork``, ``ReconcileWork``)."""


class WorkFactory(Protocol):
    def __call__(self) -> Work: ...


class _Repository(Generic[R]):
    """A repository of the unit of work, made on first use for the current connection.

    A unit of work is opened for every request (and for every rate-limit lease) and most use
    two or three of its repositories: making all of them on entry was wasted work.
    """

    def __init__(
        self,
        make: Callable[[AsyncConnection], R],
        postgresql: Callable[[AsyncConnection], R] | None = None,
    ) -> None:
        self._make = make
        self._postgresql = postgresql or make  # a faster statement where PostgreSQL has one

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type) -> Self: ...

    @overload
    def __get__(self, uow: SqlUnitOfWork, owner: type) -> R: ...

    def __get__(self, uow: SqlUnitOfWork | None, owner: type) -> Self | R:
        if uow is None:
            return self
        made = uow._repositories.get(self._name)
        if made is None:
            conn = uow.connection
            make = self._postgresql if conn.dialect.name == "postgresql" else self._make
            made = uow._repositories[self._name] = make(conn)
        return cast(R, made)

    def __set__(self, uow: SqlUnitOfWork, repository: R) -> None:
        # Settable, as the protocols' attributes are.
        uow._repositories[self._name] = repository


class SqlUnitOfWork:
    agencies: _Repository[AgencyRepository] = _Repository(SqlAgencies)
    api_keys: _Repository[ApiKeyRepository] = _Repository(SqlApiKeys, PgApiKeys)
    payments: _Repository[PaymentRepository] = _Repository(SqlPayments, PgPayments)
    events: _Repository[PaymentEventRepository] = _Repository(SqlPaymentEvents, PgPaymentEvents)
    idempotency: _Repository[IdempotencyRepository] = _Repository(SqlIdempotency)
    audit: _Repository[AuditLog] = _Repository(SqlAuditLog, PgAuditLog)
    ledger: _Repository[LedgerStore] = _Repository(SqlLedgerStore)
    attempts: _Repository[AttemptRepository] = _Repository(SqlAttempts)
    callbacks: _Repository[CallbackLog] = _Repository(SqlCallbackLog)
    credits: _Repository[CreditRepository] = _Repository(SqlCredits)
    notifications: _Repository[NotificationRepository] = _Repository(SqlNotifications)
    schedule: _Repository[ScheduleRepository] = _Repository(SqlScheduledRuns)
    refunds: _Repository[RefundRepository] = _Repository(SqlRefunds)
    reconciliation: _Repository[ReconciliationRepository] = _Repository(SqlReconciliation)
    rate_limits: _Repository[RateLimitRepository] = _Repository(SqlRateLimits)

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._repositories: dict[str, object] = {}  # made so far, for this connection

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
            raise Unavailable(BUSY) from exc
        except (OSError, DBAPIError) as exc:
            if _cannot_connect(exc):
                raise Unavailable(
                    "the database takes no connection now; retry in a moment",
                    retry_after_seconds=5,
                ) from exc
            raise
        try:
            # On SQLite this is BEGIN IMMEDIATE (engine.py): the write lock, waited for.
            await conn.begin()
        except BaseException as exc:
            await conn.close()
            if _sqlite_busy(exc):
                raise Unavailable(BUSY, retry_after_seconds=5) from exc
            raise
        self._conn = conn
        self._repositories = {}  # none made yet on this connection (see _Repository)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        self._repositories = {}  # they are bound to the connection closed below
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
