"""Per-key rate limits: the window and lease arithmetic, and the limiter on a fake store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from payments.domain.errors import RateLimited
from payments.domain.rate_limits import (
    MAX_BLOCK,
    Allowance,
    granted,
    lease_block,
    seconds_to_reset,
    window_start,
)
from payments.services.rate_limits import RateLimiter, purge_rate_limit_windows
from tests.unit.fakes import FakeUnitOfWorkFactory

T0 = datetime(2026, 11, 22, 8, 15, 0, tzinfo=UTC)
VIETNAM = timezone(timedelta(hours=7))


# --- windows ----------------------------------------------------------------------------------


def test_a_window_is_the_utc_minute() -> None:
    assert window_start(T0 + timedelta(seconds=59, microseconds=999_999)) == T0
    assert window_start(T0 + timedelta(seconds=60)) == T0 + timedelta(minutes=1)
    local = datetime(2026, 11, 22, 15, 15, 42, tzinfo=VIETNAM)  # 08:15:42 UTC
    assert window_start(local) == T0
    assert window_start(local).tzinfo is UTC


@pytest.mark.parametrize(
    ("offset", "seconds"),
    [
        (timedelta(0), 60),
        (timedelta(seconds=30, milliseconds=200), 30),  # 29.8 s left: a client waits 30
        (timedelta(seconds=59, milliseconds=500), 1),
        (timedelta(seconds=59, microseconds=999_999), 1),  # never 0: "retry now" would loop
    ],
)
def test_seconds_to_reset_rounds_up_to_the_next_window(offset: timedelta, seconds: int) -> None:
    assert seconds_to_reset(T0 + offset) == seconds


# --- blocks and grants ------------------------------------------------------------------------


def test_a_block_is_a_fiftieth_of_the_limit_capped() -> None:
    assert lease_block(6000, 0) == 120
    assert lease_block(100_000_000, 0) == MAX_BLOCK
    assert lease_block(5, 0) == 1  # small limits lease one token at a time
    assert lease_block(1, 0) == 1


def test_blocks_shrink_as_the_window_fills() -> None:
    assert lease_block(6000, 5000) == 120
    assert lease_block(6000, 5900) == 25  # a quarter of the 100 nobody had leased
    assert lease_block(6000, 5999) == 1
    assert lease_block(6000, 7000) == 1  # the count passed the limit: still a valid ask


def test_a_grant_is_what_is_left_of_the_limit_at_most_the_block() -> None:
    assert granted(100, 10, 0) == 10
    assert granted(100, 10, 95) == 5
    assert granted(100, 10, 100) == 0
    assert granted(100, 10, 120) == 0


def _exhausted(allowance: Allowance) -> bool:
    return allowance.exhausted  # a call: mypy would narrow the property across asserts


def test_an_allowance_spends_what_it_leased_and_knows_when_the_window_is_gone() -> None:
    a = Allowance(window=T0, limit=3)
    assert not a.take()
    assert not _exhausted(a)
    assert a.leased(a.next_block(), 0) == 1
    assert a.take()
    assert not a.take()
    assert a.leased(1, 2) == 1  # another process leased one meanwhile
    assert _exhausted(a)  # the count is at the limit: no lease can succeed this window
    assert a.take()
    assert not a.take()
    b = Allowance(window=T0, limit=3)
    assert b.leased(1, None) == 0
    assert b.exhausted


# --- the property: whatever the interleaving, never more than the limit -----------------------


@dataclass
class Process:
    """One web process's allowance for the key, with at most one lease in flight (the
    limiter's per-key lock) and the requests waiting for it."""

    allowance: Allowance
    block: int | None = None  # a lease sent, not yet run by the database
    answer: tuple[int, int | None] | None = None  # run, not yet back: (block, used_before)
    waiting: int = 0


@dataclass
class Window:
    """The database row and the statement on it, as the adapter implements it."""

    limit: int
    used: int | None = None  # no row yet
    admitted: int = 0
    refused: int = 0
    refusals_while_unleased: int = 0

    def lease(self, block: int) -> int | None:
        if self.used is None:
            self.used = block
            return 0
        if self.used >= self.limit:
            return None
        before, self.used = self.used, self.used + block
        return before


def _request(window: Window, p: Process) -> None:
    if p.allowance.take():
        window.admitted += 1
    elif p.allowance.exhausted:
        _refuse(window)
    else:
        p.waiting += 1
        if p.block is None and p.answer is None:
            p.block = p.allowance.next_block()


def _refuse(window: Window) -> None:
    window.refused += 1
    if (window.used or 0) < window.limit:
        window.refusals_while_unleased += 1


def _progress(window: Window, p: Process) -> None:
    if p.block is not None:  # the statement runs
        p.answer, p.block = (p.block, window.lease(p.block)), None
    elif p.answer is not None:  # its answer comes back; the waiting requests go on
        block, before = p.answer
        p.answer = None
        p.allowance.leased(block, before)
        while p.waiting and p.allowance.take():
            p.waiting -= 1
            window.admitted += 1
        if p.waiting and p.allowance.exhausted:
            for _ in range(p.waiting):
                _refuse(window)
            p.waiting = 0
        elif p.waiting:
            p.block = p.allowance.next_block()


Step = tuple[bool, int, int]  # requests (True) or lease progress, which process, how many


def _run(limit: int, processes: int, steps: list[Step]) -> tuple[Window, list[Process]]:
    window = Window(limit)
    procs = [Process(Allowance(window=T0, limit=limit)) for _ in range(processes)]
    for is_request, n, times in steps:
        p = procs[n % processes]
        for _ in range(times):
            (_request if is_request else _progress)(window, p)
            assert window.admitted <= limit
    for p in procs:  # let every lease in flight finish
        while p.block is not None or p.answer is not None:
            _progress(window, p)
            assert window.admitted <= limit
    return window, procs


@settings(max_examples=300, deadline=None)
@given(
    # Up to 1000: blocks of more than one token start at a limit of 100.
    limit=st.one_of(st.integers(1, 30), st.integers(100, 1000)),
    processes=st.integers(1, 4),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.integers(1, 60)), max_size=200),
)
# A lease sized on a stale view: process 0 asks for 2 tokens when it saw the count at 0, and
# its statement runs after process 1 took the count to 99: it may be granted only 1.
@example(
    limit=100, processes=2, steps=[(True, 0, 1), *[(True, 1, 1), (False, 1, 2)] * 99, (False, 0, 2)]
)
def test_admitted_requests_never_exceed_the_limit(
    limit: int, processes: int, steps: list[Step]
) -> None:
    window, procs = _run(limit, processes, steps)
    assert window.admitted <= limit
    # A refusal means every token of the window had been leased by someone.
    assert window.refusals_while_unleased == 0
    # Tokens are neither made nor lost: granted = spent + still held = the count, capped.
    held = sum(p.allowance.tokens for p in procs)
    assert window.admitted + held == min(window.used or 0, limit)


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 400), requests=st.integers(0, 900))
def test_one_process_admits_exactly_the_limit(limit: int, requests: int) -> None:
    steps: list[Step] = []
    for _ in range(requests):  # each request's lease, if any, completes before the next one
        steps += [(True, 0, 1), (False, 0, 2)]
    window, _ = _run(limit, 1, steps)
    assert window.admitted == min(requests, limit)
    assert window.refused == max(0, requests - limit)


# --- the limiter on the fake unit of work ---------------------------------------------------


async def _admitted(
    limiter: RateLimiter, uow: FakeUnitOfWorkFactory, limit: int, now: datetime
) -> bool:
    try:
        await limiter.admit(uow, api_key_id=7, limit=limit, now=now)
    except RateLimited:
        return False
    return True


async def test_a_busy_key_costs_one_lease_per_block() -> None:
    limiter, uow = RateLimiter(), FakeUnitOfWorkFactory()
    results = [await _admitted(limiter, uow, 6000, T0 + timedelta(seconds=1)) for _ in range(240)]
    assert all(results)
    assert uow.opened == 2  # 240 requests, blocks of 120: two leases, each its own transaction
    assert uow.store.rate_limit_windows == {(7, T0): 240}  # committed at once


async def test_a_spent_window_refuses_without_asking_the_database() -> None:
    limiter, uow = RateLimiter(), FakeUnitOfWorkFactory()
    now = T0 + timedelta(seconds=45, milliseconds=100)
    results = [await _admitted(limiter, uow, 3, now) for _ in range(10)]
    assert results == [True] * 3 + [False] * 7
    # Three tokens one at a time; the third lease showed the count at the limit, so the
    # refusals asked nothing.
    assert uow.opened == 3
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(uow, api_key_id=7, limit=3, now=now)
    assert refused.value.limit == 3
    assert refused.value.retry_after_seconds == 15
    assert uow.opened == 3


async def test_the_next_window_admits_again() -> None:
    limiter, uow = RateLimiter(), FakeUnitOfWorkFactory()
    assert [await _admitted(limiter, uow, 2, T0) for _ in range(3)] == [True, True, False]
    later = T0 + timedelta(minutes=1)
    assert [await _admitted(limiter, uow, 2, later) for _ in range(3)] == [True, True, False]


async def test_concurrent_requests_of_one_key_share_one_lease() -> None:
    limiter, uow = RateLimiter(), FakeUnitOfWorkFactory()
    # The fake lease yields to the other requests, as a round trip to the database would.
    results = await asyncio.gather(*(_admitted(limiter, uow, 6000, T0) for _ in range(50)))
    assert all(results)
    assert uow.opened == 1


async def test_no_limit_asks_nothing() -> None:
    limiter, uow = RateLimiter(), FakeUnitOfWorkFactory()
    assert all([await _admitted(limiter, uow, 0, T0) for _ in range(100)])
    assert uow.opened == 0


async def test_purge_keeps_the_current_and_previous_windows() -> None:
    uow = FakeUnitOfWorkFactory()
    for minutes in (-3, -2, -1, 0):
        uow.store.rate_limit_windows[(1, T0 + timedelta(minutes=minutes))] = 1
    assert await purge_rate_limit_windows(uow, now=T0 + timedelta(seconds=20)) == 2
    assert sorted(start for _, start in uow.store.rate_limit_windows) == [
        T0 - timedelta(minutes=1),
        T0,
    ]
