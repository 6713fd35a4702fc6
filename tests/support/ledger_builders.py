"""Small builders for ledger tests: accounts with unique codes, payment-shaped drafts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from payments.ledger import chart
from payments.ledger.entries import AccountSpec, EntryDraft, credit, debit
from payments.ledger.ports import LedgerUnitOfWorkFactory
from payments.ledger.posting import post_entry

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


async def post_payments(uow_factory: LedgerUnitOfWorkFactory, count: int) -> list[int]:
    """``count`` payment entries of 1,000, 1,001, ... in one transaction; their ids."""
    async with uow_factory() as uow:
        ids = [
            (await post_entry(uow.ledger, payment_draft(1_000 + n), now=T0)).entry.id
            for n in range(count)
        ]
        await uow.commit()
    return ids


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def payment_draft(
    amount: int,
    *,
    source_key: str | None = None,
    provider: str = "vnpay",
    payable: AccountSpec | None = None,
    occurred_at: datetime = T0,
) -> EntryDraft:
    """Payment succeeded: Dr provider clearing / Cr budget payable."""
    return EntryDraft(
        source_key=source_key or unique("payment"),
        description="Payment succeeded",
        occurred_at=occurred_at,
        legs=(
            debit(chart.provider_clearing(provider), amount),
            credit(payable or chart.budget_payable("DVC", "2862"), amount),
        ),
    )
