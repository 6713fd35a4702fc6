"""How the reconciliation's storage moves many rows at once: SQLite writes go through
``executemany`` in chunks, PostgreSQL reads come through a server-side cursor in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

CHUNK = 5_000  # rows per executemany on SQLite
FETCH_BATCH = 20_000  # rows per round trip of a PostgreSQL cursor


async def pg_batches(driver: Any, query: str, *args: Any) -> AsyncIterator[list[Any]]:
    """A server-side cursor read in batches: never one list of a million records. The next
    batch is asked for before this one is handed out, so the server produces it while the
    caller turns this one into records."""
    cursor = await driver.cursor(query, *args)
    ahead = asyncio.ensure_future(cursor.fetch(FETCH_BATCH))
    try:
        while batch := await ahead:
            ahead = asyncio.ensure_future(cursor.fetch(FETCH_BATCH))
            await asyncio.sleep(0)  # the request goes out now, not after the caller's work
            yield batch
    finally:
        if not ahead.done():
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead


async def sa_batches(result: Any) -> AsyncIterator[list[Any]]:
    yield list(result)
