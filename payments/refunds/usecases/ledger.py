"""The ledger entries of a refund.

    booked   (approved)   Dr budget-payable:<agency>:<sub-item>   Cr refunds-payable
             only for the part that comes out of the budget: money taken beyond the amount
             (an overpaid transfer, a second capture) is already in refunds payable
    paid     (succeeded)  Dr refunds-payable                      Cr clearing:<provider>
    failed after booking: the booked entry is reversed

Source keys ``refund:<id>:booked`` and ``refund:<id>:paid`` make each post at most once.
"""

from __future__ import annotations

from datetime import datetime

from payments.domain.errors import NotFound
from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry, reverse_entry
from payments.refunds.ports import RefundWork
from payments.refunds.rules.lifecycle import Refund


def booked_key(refund: Refund) -> str:
    return f"refund:{refund.id}:booked"


def booking_entry(
    refund: Refund, agency_code: str, sub_item: str, occurred_at: datetime
) -> EntryDraft:
    """Approved: the amount no longer belongs to the budget, it is owed back to the payer."""
    amount, currency = refund.from_budget, refund.currency
    return EntryDraft(
        source_key=booked_key(refund),
        description=f"Refund {refund.id} of payment {refund.payment_id} approved",
        occurred_at=occurred_at,
        legs=(
            debit(chart.budget_payable(agency_code, sub_item, currency), amount),
            credit(chart.refunds_payable(currency), amount),
        ),
    )


def paid_entry(refund: Refund, occurred_at: datetime) -> EntryDraft:
    """Succeeded: the provider paid the payer back out of what it owes us."""
    amount, currency = refund.amount, refund.currency
    return EntryDraft(
        source_key=f"refund:{refund.id}:paid",
        description=f"Refund {refund.id} of payment {refund.payment_id} paid by {refund.provider}",
        occurred_at=occurred_at,
        legs=(
            debit(chart.refunds_payable(currency), amount),
            credit(chart.provider_clearing(refund.provider, currency), amount),
        ),
    )


async def book(uow: RefundWork, refund: Refund, now: datetime) -> None:
    if refund.from_budget == 0:
        return
    payment = await uow.payments.by_id(refund.payment_id)
    agency = await uow.agencies.by_id(refund.agency_id)
    if payment is None or agency is None:  # pragma: no cover - rows are never deleted
        raise NotFound(f"refund {refund.id} lost its payment or agency")
    draft = booking_entry(refund, agency.code, payment.draft.budget.sub_item, now)
    await post_entry(uow.ledger, draft, now=now)


async def pay(uow: RefundWork, refund: Refund, now: datetime) -> None:
    await post_entry(uow.ledger, paid_entry(refund, now), now=now)


async def unbook(uow: RefundWork, refund: Refund, now: datetime) -> None:
    """A refund that failed after booking: the money is the budget's again."""
    booked = await uow.ledger.entry_by_source_key(booked_key(refund))
    if booked is None:
        return
    await reverse_entry(
        uow.ledger,
        booked.id,
        now=now,
        description=f"Refund {refund.id} failed: booking reversed",
    )
