"""What the app holds for its lifetime, built in the lifespan (never at import time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from payments.bootstrap import OutboundClient
from payments.domain.access import Caller
from payments.providers.interface import ProviderRegistry
from payments.services.rate_limits import RateLimiter
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class KeyCache:
    """Resolved API keys for a few seconds: one query fewer on every request.

    The cache is used only while this process hears of every revocation as it commits (the
    PostgreSQL listener, ``payments/adapters/db/key_revocations.py``, calls ``listening``,
    ``revoked`` and ``deaf``): a revocation clears it, so a revoked key stops working at
    once in every process. Before the listener is connected, whenever it loses its
    connection, and always on SQLite (which has no signal between processes), every request
    reads its key from the database. ``ttl_seconds`` still bounds an entry's life: a key
    revoked by hand in SQL, which notifies no one, stops working within it.
    """

    ttl_seconds: int = 10
    _entries: dict[str, tuple[int, Caller]] = field(default_factory=dict)
    _trusted: bool = False
    _generation: int = 0  # one more with every clearing
    heard: int = 0  # revocations heard of
    outages: int = 0  # times the listener was lost
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def trusted(self) -> bool:
        """True while revocations are heard of: the cache is used."""
        return self._trusted

    def ticket(self) -> int:
        """Take one before reading a key from the database, for ``put``."""
        return self._generation

    def get(self, key_hash: str, monotonic_now: int) -> Caller | None:
        if not self._trusted:
            return None
        hit = self._entries.get(key_hash)
        if hit is None or hit[0] < monotonic_now:
            return None
        return hit[1]

    def put(self, key_hash: str, caller: Caller, monotonic_now: int, ticket: int) -> None:
        """Keep a key read from the database after ``ticket()`` gave ``ticket``, unless the
        cache was cleared since: what was read may be older than a revocation heard in the
        meantime. ``monotonic_now`` in nanoseconds (time.monotonic_ns)."""
        if not self._trusted or ticket != self._generation:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (monotonic_now + self.ttl_seconds * 1_000_000_000, caller)

    def clear(self) -> None:
        """Forget every key: this process revoked one (its notification comes a moment later)."""
        self._clear()

    # --- what the revocation listener tells (key_revocations.RevocationSink) -----------------

    def listening(self) -> None:
        """Every revocation is heard from now on; those made before may not have been."""
        self._trusted = True
        self._clear()

    def revoked(self, key_id: int | None) -> None:
        # All of it: revocations are rare, and entries are found by hash, not by key id.
        self.heard += 1
        self._clear()

    def deaf(self) -> None:
        """Revocations may go unheard: read every key from the database until ``listening``."""
        if self._trusted:
            self.outages += 1
        self._trusted = False
        self._clear()

    def _clear(self) -> None:
        self._entries.clear()
        self._generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def until(self, condition: Callable[[KeyCache], bool]) -> None:
        """Wait until ``condition(self)`` holds (checked at every clearing): for tests and
        for whatever must wait for the listener."""
        while not condition(self):
            await self._changed.wait()


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    uow_factory: SqlUnitOfWorkFactory
    http: OutboundClient  # the one outbound client (providers, notifications)
    providers: ProviderRegistry
    clock: Clock = utc_now
    keys: KeyCache = field(default_factory=KeyCache)
    rate_limits: RateLimiter = field(default_factory=RateLimiter)  # this process's leases
