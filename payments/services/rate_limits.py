"""Admit a keyed request under its per-minute limit, or refuse it (``RateLimited``).

The arithmetic is in ``payments/domain/rate_limits.py``; this module owns the lease's short
transaction and the process's allowances.

A lease is a unit of work of its own, never the request's: it commits at once, so other
processes see the count, and it holds no connection while the request runs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from payments.domain.errors import RateLimited
from payments.domain.rate_limits import WINDOW, Allowance, seconds_to_reset, window_start
from payments.services.ports import UnitOfWorkFactory


@dataclass
class _Slot:
    allowance: Allowance
    # Requests of one key wait for the lease in flight rather than each leasing a block.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RateLimiter:
    """One process's allowances: one per key, for the key's current window.

    Held for the app's lifetime. A request with a token left costs no I/O; the others lease a
    block in their own transaction, or are refused without I/O once the window is all leased.
    """

    max_keys = 10_000  # beyond it, keys idle since an earlier window are forgotten

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}

    async def admit(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        api_key_id: int,
        limit: int,
        now: datetime,
    ) -> None:
        """Return if the request may go on; raise RateLimited if not. ``limit`` 0: no limit."""
        if limit <= 0:
            return
        window = window_start(now)
        slot = self._slot(api_key_id, window, limit)
        allowance = slot.allowance
        if allowance.take():
            return
        if not allowance.exhausted:
            async with slot.lock:
                if allowance.take():  # the lease another request made while we waited
                    return
                if not allowance.exhausted:
                    block = allowance.next_block()
                    async with uow_factory() as uow:
                        used_before = await uow.rate_limits.lease(
                            api_key_id=api_key_id, window_start=window, block=block, limit=limit
                        )
                        await uow.commit()
                    allowance.leased(block, used_before)
                    if allowance.take():
                        return
        raise RateLimited(limit, seconds_to_reset(now))

    def _slot(self, api_key_id: int, window: datetime, limit: int) -> _Slot:
        slot = self._slots.get(api_key_id)
        if slot is not None and slot.allowance.window == window and slot.allowance.limit == limit:
            return slot
        # A new window (or a changed limit) starts with nothing leased; what the old one held
        # is lost, as the module above says.
        if len(self._slots) >= self.max_keys:
            self._slots = {k: s for k, s in self._slots.items() if s.allowance.window == window}
        slot = _Slot(Allowance(window=window, limit=limit))
        self._slots[api_key_id] = slot
        return slot


async def purge_rate_limit_windows(uow_factory: UnitOfWorkFactory, *, now: datetime) -> int:
    """Forget windows before the previous one: nobody leases from them any more. The previous
    one is kept for a process whose clock runs a little behind."""
    async with uow_factory() as uow:
        purged = await uow.rate_limits.purge(window_start(now) - WINDOW)
        await uow.commit()
    return purged
