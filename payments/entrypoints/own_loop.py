"""Running a piece of async work on a worker thread, with an event loop of its own.

Seconds of CPU on the web process's event loop (parsing a national day's statement, matching
a day's million lines) stop that process answering anyone meanwhile, payment callbacks
included. Such work runs on a thread instead, in a loop made for it, with what it needs made
there too: a connection pool and an httpx client belong to the loop that opened them, so the
app's cannot be lent. Everything is closed when the work ends, and whatever the work raises
(NotFound, Conflict, StatementError...) reaches the caller unchanged.

One such job runs at a time in a process: each opens connections of its own, outside the
app's pool budget (``PAYMENTS_DB_POOL_SIZE``), so concurrent uploads and runs would add up to
the server's max_connections, and on SQLite each holds the write lock for its whole import.
Another job waits for its turn up to ``PAYMENTS_DB_POOL_TIMEOUT`` seconds, as a request waits
for a pooled connection, then gets Unavailable (503, retry later): a request is not kept
hanging for the minutes a national day's run may take.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from starlette.applications import Starlette

from payments.adapters.db.engine import make_engine
from payments.bootstrap import outbound_client, provider_registry
from payments.domain.errors import Unavailable
from payments.http.container import Container
from payments.providers.interface import ProviderRegistry
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

T = TypeVar("T")
POOL_SIZE = 2  # the work's unit of work plus the provider checks' own transactions
# One turn per event loop: a web process has one loop, and asyncio's locks belong to one.
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Resources:
    """What the work may use: made on its loop (or the app's own, see ``run_on_own_loop``)."""

    uow_factory: SqlUnitOfWorkFactory
    providers: ProviderRegistry | None = None  # when asked for: status queries


Work = Callable[[Resources], Coroutine[Any, Any, T]]


async def run_on_own_loop(
    app: Container, work: Work[T], *, providers: Starlette | None = None
) -> T:
    """``work`` run on a worker thread with a loop, an engine (a small pool) and, given the
    Starlette app as ``providers``, an httpx client and a provider registry of its own.

    The request waits for it without blocking its loop; a cancelled request (client gone)
    still waits for the work to end rather than abandon it halfway. An in-memory SQLite
    database exists only in the app's own connection, so there the work runs right here,
    with the app's resources. Unavailable when another such job keeps this process's turn
    past ``PAYMENTS_DB_POOL_TIMEOUT`` (see the module's docstring)."""
    settings = app.settings
    if ":memory:" in settings.database_url:
        return await work(Resources(app.uow_factory, app.providers if providers else None))

    def on_thread() -> T:
        return asyncio.run(_with_resources(settings, work, providers))

    turn = _turns.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(1))
    try:
        async with asyncio.timeout(settings.db_pool_timeout):
            await turn.acquire()
    except TimeoutError:
        raise Unavailable(
            "another import or reconciliation run is under way; retry in a moment",
            retry_after_seconds=max(1, settings.db_pool_timeout),
        ) from None
    try:
        # anyio copies the context into the thread: the request id stays on the work's log
        # lines. A cancelled request still waits here for the thread (and keeps the turn).
        return await anyio.to_thread.run_sync(on_thread)
    finally:
        turn.release()


async def _with_resources(settings: Settings, work: Work[T], providers: Starlette | None) -> T:
    engine = make_engine(
        settings.database_url,
        pool_size=POOL_SIZE,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
    )
    try:
        if providers is None:
            return await work(Resources(SqlUnitOfWorkFactory(engine)))
        async with outbound_client(settings, providers) as http:
            registry = provider_registry(settings, http)
            return await work(Resources(SqlUnitOfWorkFactory(engine), registry))
    finally:
        await engine.dispose()
