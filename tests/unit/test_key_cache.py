"""The web process's key cache: used only while revocations are heard, cleared by each one,
and never refilled with what was read before a clearing."""

from __future__ import annotations

import asyncio

from payments.domain.access import Caller, Role
from payments.http.container import KeyCache

CALLER = Caller(api_key_id=7, agency_id=1, agency_code="A", role=Role.PORTAL)
SECOND = 1_000_000_000  # monotonic nanoseconds


def test_a_new_cache_is_bypassed_until_revocations_are_heard() -> None:
    cache = KeyCache()
    assert not cache.trusted
    cache.put("h", CALLER, 0, cache.ticket())
    assert cache.get("h", 0) is None  # nothing kept: nobody would tell it of a revocation
    cache.listening()
    cache.put("h", CALLER, 0, cache.ticket())
    assert cache.get("h", 0) == CALLER
    assert cache.get("h", 10 * SECOND) == CALLER
    assert cache.get("h", 10 * SECOND + 1) is None  # the time to live still bounds it


def test_a_revocation_or_a_lost_listener_clears_it() -> None:
    cache = KeyCache()
    cache.listening()
    cache.put("h", CALLER, 0, cache.ticket())
    cache.revoked(7)
    assert (cache.get("h", 0), cache.heard) == (None, 1)

    cache.put("h", CALLER, 0, cache.ticket())
    cache.deaf()
    assert (cache.trusted, cache.outages) == (False, 1)
    cache.listening()  # back: what was cached before the outage is gone
    assert cache.get("h", 0) is None
    cache.deaf()
    cache.deaf()  # told twice, lost once
    assert cache.outages == 2


def test_a_key_read_before_a_revocation_is_not_kept_after_it() -> None:
    cache = KeyCache()
    cache.listening()
    ticket = cache.ticket()  # a request starts reading the key from the database...
    cache.revoked(7)  # ...the key is revoked and heard of meanwhile...
    cache.put("h", CALLER, 0, ticket)  # ...the request's (stale) answer is not kept
    assert cache.get("h", 0) is None
    cache.put("h", CALLER, 0, cache.ticket())
    assert cache.get("h", 0) == CALLER


async def test_until_wakes_on_the_change_it_waits_for() -> None:
    cache = KeyCache()
    waiting = asyncio.create_task(cache.until(lambda c: c.heard >= 2))
    cache.listening()
    cache.revoked(1)
    await asyncio.sleep(0)
    assert not waiting.done()
    cache.revoked(2)
    await asyncio.wait_for(waiting, timeout=5)
