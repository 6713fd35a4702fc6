"""Keyset pages: one row more than a page holds is read to know whether another page follows,
so no list ever counts its rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def one_page(
    fetch: Callable[[int], Awaitable[Sequence[T]]], limit: int
) -> tuple[list[T], bool]:
    """``fetch(n)`` reads at most ``n`` rows after the cursor; this gives at most ``limit`` of
    them and whether more follow."""
    rows = await fetch(limit + 1)
    return list(rows[:limit]), len(rows) > limit
