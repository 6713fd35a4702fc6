"""Revoked API keys, told to every web process at once: PostgreSQL's LISTEN/NOTIFY.

The transaction that revokes a key sends a notification on ``REVOKED_CHANNEL``
(``PgApiKeys.revoke``); PostgreSQL delivers it at commit to every session listening there.
Each web process listens on a connection of its own, outside the pool: a pooled connection
spends its life in transactions, and a session in a transaction receives nothing until the
transaction ends.

The listener tells a ``RevocationSink`` (the web app's key cache) three things: ``listening``
(from now on every revocation is heard; any made before may not have been), ``revoked`` and
``deaf`` (the connection is lost: revocations may go unheard until it is back). It connects
again with a growing delay. A connection that dies without a word (a network partition) is
found out by a query every ``ping_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from payments.adapters.db.access import REVOKED_CHANNEL

log = structlog.get_logger()

# How the listener's connection shows in pg_stat_activity.
APPLICATION_NAME = "payments-key-revocations"
# Read when a listener is made (tests lengthen the retry to keep a listener away).
RETRY_FIRST_MS = 500
RETRY_MOST_MS = 30_000
PING_MS = 5_000


class RevocationSink(Protocol):
    def listening(self) -> None: ...

    def revoked(self, key_id: int | None) -> None: ...

    def deaf(self) -> None: ...


def listener_dsn(database_url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL (``postgresql+asyncpg://...``). It carries the
    password: never log it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class RevocationListener:
    def __init__(
        self,
        dsn: str,
        sink: RevocationSink,
        *,
        retry_first_ms: int | None = None,
        retry_most_ms: int | None = None,
        ping_ms: int | None = None,
    ) -> None:
        self._dsn = dsn
        self._sink = sink
        self._retry_first = RETRY_FIRST_MS if retry_first_ms is None else retry_first_ms
        self._retry_most = RETRY_MOST_MS if retry_most_ms is None else retry_most_ms
        self._ping = (PING_MS if ping_ms is None else ping_ms) / 1000  # seconds, for asyncio
        self._listened = False

    async def run(self) -> None:
        """Listen until cancelled, connecting again whenever the connection is lost."""
        delay_ms = self._retry_first
        while True:
            self._listened = False
            try:
                await self._listen()
            except Exception as exc:
                # Whatever went wrong, the sink was told ``deaf`` (keys are read from the
                # database meanwhile): keep trying rather than leave this process deaf for good.
                log.warning("key_revocations_lost", error=type(exc).__name__, retry_in_ms=delay_ms)
            if self._listened:
                delay_ms = self._retry_first  # it was connected: a new loss starts afresh
            await asyncio.sleep(delay_ms / 1000)
            delay_ms = min(delay_ms * 2, self._retry_most)

    async def _listen(self) -> None:
        """One connection's life: returns when the server closed it, raises on any failure."""
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self._ping,
            server_settings={"application_name": APPLICATION_NAME},
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(REVOKED_CHANNEL, self._notified)
            self._sink.listening()
            self._listened = True
            log.info("key_revocations_listening")
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._ping)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=self._ping)
            log.warning("key_revocations_closed")
        finally:
            self._sink.deaf()
            conn.terminate()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._sink.revoked(int(payload) if payload.isascii() and payload.isdigit() else None)
