"""Sealing as a job: the backlog in bounded batches, the head as an anchor, the backlog's size.

Each batch is its own transaction (``seal_journal`` under the chain lock), so a long backlog
never holds one transaction open, concurrent sealers take turns batch by batch (the lock:
PostgreSQL's advisory lock, SQLite's single writer), and one that stops between batches
leaves a chain that is whole. Each function opens its own units of work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from payments.ledger.anchors import Anchor, head_anchor
from payments.ledger.chain import ChainLink
from payments.ledger.ports import LedgerUnitOfWorkFactory
from payments.ledger.verification import Problem, seal_journal

SEAL_BATCH = 1000  # entries per sealing transaction


@dataclass(frozen=True)
class SealRun:
    sealed: int
    batches: int
    head: ChainLink | None
    refused: Problem | None = None
    """The entry sealing stopped at because it breaks a rule (nothing after it is sealed)."""
    more: bool = False
    """Stopped at the bound with entries left: the next round goes on."""

    @property
    def anchor(self) -> Anchor:
        """The head after the run (``str()`` of it: ``<position>:<hash>``)."""
        return head_anchor(self.head)


async def seal_backlog(
    uow_factory: LedgerUnitOfWorkFactory,
    *,
    clock: Callable[[], datetime],
    batch: int = SEAL_BATCH,
    max_batches: int | None = None,
) -> SealRun:
    """Seal the queue ``batch`` entries a transaction, at most ``max_batches`` transactions
    (None: until the queue is empty or an entry is refused)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    sealed = batches = 0
    head: ChainLink | None = None
    while max_batches is None or batches < max_batches:
        async with uow_factory() as uow:
            result = await seal_journal(uow.ledger, now=clock(), batch=batch)
            await uow.commit()
        batches += 1
        sealed += result.sealed
        head = result.head
        if result.refused is not None:
            return SealRun(sealed, batches, head, refused=result.refused)
        if result.sealed < batch:
            return SealRun(sealed, batches, head)
    return SealRun(sealed, batches, head, more=True)


async def current_anchor(uow_factory: LedgerUnitOfWorkFactory, *, now: datetime) -> Anchor:
    """The chain's head now, as an anchor stamped ``now``."""
    async with uow_factory() as uow:
        head = await uow.ledger.chain_head()
    return head_anchor(head, now)


async def unsealed_backlog(uow_factory: LedgerUnitOfWorkFactory) -> int:
    """Entries posted and not sealed yet."""
    async with uow_factory() as uow:
        return await uow.ledger.unsealed_count()
