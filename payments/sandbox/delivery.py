"""How the simulators send their server-to-server callbacks: now, twice, never, or later.

A delayed callback lets a tester see what a citizen sees when the provider's IPN is slow: the
browser is back first (the result page says "processing") and the payment moves when the IPN
lands, or when the requery asks. Delayed sends are tasks of this process, cancelled at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from starlette.datastructures import FormData
from starlette.requests import Request

log = structlog.get_logger()
MAX_DELAY_SECONDS = 600

Send = Callable[[], Awaitable[None]]
Wait = Callable[[int], Awaitable[None]]  # waits the given seconds (tests wait for their word)


def _wall_clock() -> Wait:
    return asyncio.sleep


@dataclass(frozen=True)
class Switches:
    sends: int  # 0 drops the callback, 2 duplicates it
    delay_seconds: int


def switches(form: FormData, *, drop: str, duplicate: str) -> Switches:
    """The tester's choices from the simulator page's form (field names differ by provider)."""
    try:
        delay = int(str(form.get("delay_seconds", "0")) or "0")
    except ValueError:
        delay = 0
    sends = 0 if form.get(drop) else 2 if form.get(duplicate) else 1
    return Switches(sends=sends, delay_seconds=min(max(delay, 0), MAX_DELAY_SECONDS))


@dataclass
class Deliveries:
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    wait: Wait = field(default_factory=_wall_clock)

    async def deliver(self, chosen: Switches, send: Send) -> None:
        """Send now (the browser waits, as with a provider that calls before redirecting) or
        schedule the sends and return at once."""
        if chosen.delay_seconds == 0:
            await _repeat(chosen.sends, send)
            return
        task = asyncio.create_task(self._later(chosen, send))
        self.tasks.add(task)  # a reference, or the task may be collected before it runs
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _later(self, chosen: Switches, send: Send) -> None:
        await self.wait(chosen.delay_seconds)
        await _repeat(chosen.sends, send)


async def _repeat(times: int, send: Send) -> None:
    for _ in range(times):
        try:
            await send()
        except Exception:  # the sandbox reports; it never breaks the tester's browser flow
            log.exception("sandbox_callback_failed")


def deliveries(request: Request) -> Deliveries:
    found: Deliveries = request.app.state.sandbox_deliveries
    return found
