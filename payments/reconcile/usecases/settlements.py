"""Provider settlements of a day's run, booked from the providers' settlement reports: the
provider paid into the collection account what it owed us for a capture, less its fee.

    Dr collection-bank          net       (the provider's transfer, plus the operator's
                                           cover of the fee: chart.fee_cover)
    Dr provider-fees:<provider> fee
        Cr clearing:<provider>  net       (what it owed for the capture: the amount less the
                                           refunds it already paid back out of it)
        Cr fee-cover            fee

A report line is booked when it agrees with a succeeded payment (same provider, amount and
currency: the three-way check's own notion of agreement); a payment is booked once, on its
first line (``reconcile_settlements`` has one row per payment, so reruns book nothing twice).
A payment with a refund still in flight waits: the refund's outcome changes what the provider
owed. One entry covers up to ``SETTLEMENT_CHUNK`` payments (legs summed per account).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import NamedTuple

from payments.ledger import chart
from payments.ledger.entries import EntryDraft, Leg, credit, debit
from payments.ledger.posting import post_entry
from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.ports import PaymentRefunds, ReconcileWork, SettlementRecord
from payments.reconcile.rules.matching import GatewayPayment, payments_by_reference

SETTLEMENT_CHUNK = 10_000  # payments per settlement ledger entry


class Settled(NamedTuple):
    payment: GatewayPayment
    fee: int
    net: int  # what the provider still owed for the capture


def agreed_settlements(
    lines: Iterable[SettlementLine],
    payments: Sequence[GatewayPayment],
    settled_on: Mapping[str, date],
    refunds: Mapping[str, PaymentRefunds],
) -> list[Settled]:
    """The report lines to book now, in payment id order (so reruns build the same keys);
    a payment with a refund in flight is left for a rerun of its day once it is final."""
    by_reference = payments_by_reference(payments)
    seen: set[str] = set()
    settled: list[Settled] = []
    none = PaymentRefunds()
    for line in lines:
        payment = by_reference.get(line.payment_reference)
        if payment is None or payment.provider != line.provider or payment.payment_id in seen:
            continue
        seen.add(payment.payment_id)
        if payment.payment_id in settled_on:
            continue
        if line.amount != payment.gross or line.currency != payment.currency:
            continue  # a provider_amount_mismatch: staff decide, nothing is booked
        paid = refunds.get(payment.payment_id, none)
        if paid.in_flight:
            continue
        settled.append(Settled(payment, line.fee, payment.gross - paid.paid_from_budget))
    settled.sort(key=lambda s: s.payment.payment_id)
    return settled


def settlement_draft(
    day: date, chunk: Sequence[Settled], occurred_at: datetime
) -> EntryDraft | None:
    """One entry for ``chunk`` (legs summed per account), keyed by the day and a digest of
    its payments; None when nothing moves (every payment refunded in full, no fee)."""
    owed: dict[tuple[str, str], int] = {}
    fees: dict[tuple[str, str], int] = {}
    for item in chunk:
        key = (item.payment.provider, item.payment.currency)
        owed[key] = owed.get(key, 0) + item.net
        fees[key] = fees.get(key, 0) + item.fee
    bank: dict[str, int] = {}
    cover: dict[str, int] = {}
    for (_, currency), amount in owed.items():
        bank[currency] = bank.get(currency, 0) + amount
    for (_, currency), amount in fees.items():
        cover[currency] = cover.get(currency, 0) + amount
    legs: list[Leg] = [debit(chart.collection_bank(c), a) for c, a in sorted(bank.items())]
    legs += [debit(chart.provider_fees(p, c), a) for (p, c), a in sorted(fees.items())]
    legs += [credit(chart.provider_clearing(p, c), a) for (p, c), a in sorted(owed.items())]
    legs += [credit(chart.fee_cover(c), a) for c, a in sorted(cover.items())]
    legs = [leg for leg in legs if leg.amount > 0]
    if not legs:
        return None
    ids = "\n".join(item.payment.payment_id for item in chunk)
    digest = hashlib.sha256(ids.encode()).hexdigest()[:40]
    return EntryDraft(
        source_key=f"settlement:{day.isoformat()}:{digest}",
        description=f"Settled by the provider: {len(chunk)} payment(s) on the settlement "
        f"report of {day.isoformat()}",
        occurred_at=occurred_at,
        legs=tuple(legs),
    )


def settlement_chunks(settled: Sequence[Settled]) -> list[Sequence[Settled]]:
    return [
        settled[start : start + SETTLEMENT_CHUNK]
        for start in range(0, len(settled), SETTLEMENT_CHUNK)
    ]


def settlement_entries(settled: Sequence[Settled]) -> int:
    """How many entries ``post_settlements`` posts for ``settled`` (a chunk where nothing
    moves posts none)."""
    return sum(any(s.net or s.fee for s in chunk) for chunk in settlement_chunks(settled))


async def post_settlements(
    uow: ReconcileWork, day: date, run_id: int, settled: Sequence[Settled], now: datetime
) -> None:
    """Book ``settled`` through the ledger's write path and record each payment as settled."""
    for chunk in settlement_chunks(settled):
        draft = settlement_draft(day, chunk, now)
        entry_id = None
        if draft is not None:
            entry_id = (await post_entry(uow.ledger, draft, now=now)).entry.id
        await uow.reconciliation.add_settlements(
            SettlementRecord(day, run_id, entry_id),
            [(s.payment.payment_id, s.payment.provider, s.fee) for s in chunk],
        )
