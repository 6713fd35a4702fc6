"""What the app holds for its lifetime, built in the lifespan (never at import time)."""

from __future__ import annotations

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

    A revoked key therefore stays usable for at most ``ttl_seconds``.
    """

    ttl_seconds: int = 10
    _entries: dict[str, tuple[int, Caller]] = field(default_factory=dict)

    def get(self, key_hash: str, monotonic_now: int) -> Caller | None:
        hit = self._entries.get(key_hash)
        if hit is None or hit[0] < monotonic_now:
            return None
        return hit[1]

    def put(self, key_hash: str, caller: Caller, monotonic_now: int) -> None:
        """``monotonic_now`` in nanoseconds (time.monotonic_ns)."""
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (monotonic_now + self.ttl_seconds * 1_000_000_000, caller)


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
