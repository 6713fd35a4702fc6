"""Per-key rate limits: fixed one-minute windows (UTC) and the leases that share them.

An API key may make ``limit`` requests per UTC minute across every web process. The window's
count lives in the database; a process leases a block of tokens from it with one atomic
statement ("add ``block`` to the count unless it has reached the limit; tell me the count
before") and then spends the tokens locally, so most requests touch no database.

A process spends only what it leased, so the requests admitted in a window never exceed the
limit, whatever the interleaving of processes and requests. The price: tokens a process leased
and did not spend are lost when the window ends, so a key whose traffic moves from one process
to another near its limit may be refused slightly early. Blocks are small (a fiftieth of the
limit, at most ``MAX_BLOCK``) and shrink as the window fills, which keeps that loss small.

Pure: the lease statement itself is in ``payments/adapters/db/rate_limits.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WINDOW = timedelta(minutes=1)
BLOCK_SHARE = 50  # a block is a fiftieth of the limit...
MAX_BLOCK = 200  # ...at most this many (one round trip per 200 requests of a busy key)...
TAIL_SHARE = 4  # ...and at most a quarter of what no process had leased at our last lease


def window_start(now: datetime) -> datetime:
    """The UTC minute ``now`` falls in."""
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def seconds_to_reset(now: datetime) -> int:
    """Whole seconds until the next window (at least 1): Retry-After and RateLimit-Reset."""
    left = (window_start(now) + WINDOW - now).total_seconds()
    return max(1, math.ceil(left))


def lease_block(limit: int, used: int) -> int:
    """How many tokens to ask for, given the window's count as last seen (``used``)."""
    base = max(1, min(limit // BLOCK_SHARE, MAX_BLOCK))
    return max(1, min(base, (limit - used) // TAIL_SHARE))


def granted(limit: int, block: int, used_before: int) -> int:
    """What a lease of ``block`` tokens grants when the count stood at ``used_before``."""
    return max(0, min(block, limit - used_before))


@dataclass
class Allowance:
    """One process's share of one key's window: the tokens it leased and has not spent."""

    window: datetime
    limit: int
    tokens: int = 0
    used: int = 0  # the window's count in the database as of this process's last lease

    def take(self) -> bool:
        """Spend one leased token, if any is left."""
        if self.tokens > 0:
            self.tokens -= 1
            return True
        return False

    @property
    def exhausted(self) -> bool:
        """Every token of the window has been leased (here or elsewhere); nobody gives tokens
        back within a window, so no lease can succeed until the next one."""
        return self.used >= self.limit

    def next_block(self) -> int:
        return lease_block(self.limit, self.used)

    def leased(self, block: int, used_before: int | None) -> int:
        """Record a lease's answer (``None``: the count had reached the limit, nothing was
        added); return the tokens granted."""
        if used_before is None:
            self.used = self.limit
            return 0
        grant = granted(self.limit, block, used_before)
        self.tokens += grant
        self.used = used_before + block
        return grant
