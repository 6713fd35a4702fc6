"""What the rate limiter needs from storage: the shared per-key window counts.

A lease runs in its own short transaction, never in a request's unit of work: it commits at
once, so other processes see the count, and it holds no connection while the request runs.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self


class RateLimitWindows(Protocol):
    async def lease(
        self, *, api_key_id: int, window_start: datetime, block: int, limit: int
    ) -> int | None:
        """Add ``block`` to the key's count for the window in one atomic statement, unless
        the count has reached ``limit``. Returns the count before the addition (0 for a new
        window), or None when it had reached the limit (nothing added)."""

    async def purge(self, before: datetime) -> int:
        """Forget the windows that started before ``before``; return how many."""


class RateLimitUnitOfWork(Protocol):
    windows: RateLimitWindows

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class RateLimitUnitOfWorkFactory(Protocol):
    def __call__(self) -> RateLimitUnitOfWork: ...
