"""The sandbox treasury's statement of a day: one credit per succeeded payment, with switches that
inject each kind of discrepancy the reconciliation must find. Pure: the web layer loads the
payments and serves the result.

Payments are taken in payment id order; each switch picks its own payments, so switches combine:

- ``missing``: the 1st payment has no line (missing at treasury);
- ``amount_mismatch``: the 2nd is credited 1.000 more than it took;
- ``duplicate``: the 3rd is credited twice;
- ``late``: the 4th is left out of its own day and booked on the next business day's statement
  (the statement of day D carries the 4th payment of the previous business day): missing on
  D-1, late on D;
- ``batch``: the 5th to 7th are credited as one batch line, reference ``SBXBATCH<yyyymmdd>``
  (camt: one entry whose transactions name each payment; the default CSV layout has no
  per-transaction detail, so there the line carries only the batch reference, count and
  total). The gateway learns the batch from the providers' settlement reports: the sandbox's
  (``sandbox_settlement``) always name that batch for those payments, as a provider reports
  the batches it remitted in whatever the treasury's statement shows; with them imported the
  CSV batch line matches, without them it is reported unknown at the gateway;
- ``unknown``: one more credit naming a payment the gateway does not know.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from enum import StrEnum

from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementLine,
    Transaction,
)
from payments.reconcile.rules.matching import GatewayPayment


class Discrepancy(StrEnum):
    MISSING = "missing"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE = "duplicate"
    LATE = "late"
    BATCH = "batch"
    UNKNOWN = "unknown"


MISMATCH_EXTRA = 1_000
UNKNOWN_AMOUNT = 123_000


def _credit(
    day: date, number: int, payment: GatewayPayment, amount: int | None = None
) -> StatementLine:
    return StatementLine(
        line_number=number,
        amount=payment.amount if amount is None else amount,
        currency=payment.currency,
        direction=Direction.CREDIT,
        reversal=False,
        status=BookingStatus.BOOKED,
        booking_date=day,
        value_date=day,
        bank_reference=f"KBSBX{day:%Y%m%d}{number:06d}",
        end_to_end_id=payment.payment_id,
        remittance=f"NOP NSNN {payment.payment_id}",
        payment_reference=payment.payment_id,
    )


def sandbox_statement(
    day: date,
    payments: Sequence[GatewayPayment],
    *,
    inject: Collection[Discrepancy] = (),
    previous_day: Sequence[GatewayPayment] = (),
    currency: str = "VND",
) -> list[StatementLine]:
    """The lines of ``day``'s statement for the day's succeeded ``payments``; ``previous_day``:
    the previous business day's payments (for ``late``)."""
    ordered = sorted(payments, key=lambda p: p.payment_id)
    picked: dict[int, Discrepancy] = {}
    if Discrepancy.MISSING in inject:
        picked[0] = Discrepancy.MISSING
    if Discrepancy.AMOUNT_MISMATCH in inject:
        picked[1] = Discrepancy.AMOUNT_MISMATCH
    if Discrepancy.DUPLICATE in inject:
        picked[2] = Discrepancy.DUPLICATE
    if Discrepancy.LATE in inject:
        picked[3] = Discrepancy.LATE
    batch = batched(ordered) if Discrepancy.BATCH in inject else []
    lines: list[StatementLine] = []

    def add(payment: GatewayPayment, amount: int | None = None) -> None:
        lines.append(_credit(day, len(lines) + 1, payment, amount))

    late = sorted(previous_day, key=lambda p: p.payment_id)
    if Discrepancy.LATE in inject and len(late) > 3:
        add(late[3])
    for position, payment in enumerate(ordered):
        if payment in batch:
            continue
        what = picked.get(position)
        if what in (Discrepancy.MISSING, Discrepancy.LATE):
            continue
        if what is Discrepancy.AMOUNT_MISMATCH:
            add(payment, payment.amount + MISMATCH_EXTRA)
            continue
        add(payment)
        if what is Discrepancy.DUPLICATE:
            add(payment)
    if batch:
        total = sum(p.amount for p in batch)
        number = len(lines) + 1
        lines.append(
            StatementLine(
                line_number=number,
                amount=total,
                currency=currency,
                direction=Direction.CREDIT,
                reversal=False,
                status=BookingStatus.BOOKED,
                booking_date=day,
                value_date=day,
                bank_reference=f"KBSBX{day:%Y%m%d}{number:06d}",
                end_to_end_id=None,
                remittance="",
                payment_reference=None,
                batch_reference=batch_reference(day),
                batch_count=len(batch),
                batch_total=total,
                transactions=tuple(
                    Transaction(p.amount, p.payment_id, p.payment_id, f"NOP NSNN {p.payment_id}")
                    for p in batch
                ),
            )
        )
    if Discrepancy.UNKNOWN in inject:
        stranger = unknown_reference(day)
        number = len(lines) + 1
        lines.append(
            StatementLine(
                line_number=number,
                amount=UNKNOWN_AMOUNT,
                currency=currency,
                direction=Direction.CREDIT,
                reversal=False,
                status=BookingStatus.BOOKED,
                booking_date=day,
                value_date=day,
                bank_reference=f"KBSBX{day:%Y%m%d}{number:06d}",
                end_to_end_id=stranger,
                remittance=f"NOP NSNN {stranger}",
                payment_reference=stranger,
            )
        )
    return lines


def batched(ordered: Sequence[GatewayPayment]) -> Sequence[GatewayPayment]:
    """The payments (of the day, in payment id order) that ``batch`` credits as one line."""
    return ordered[4:7] if len(ordered) >= 6 else []


def batch_reference(day: date) -> str:
    return f"SBXBATCH{day:%Y%m%d}"


def unknown_reference(day: date) -> str:
    """A well-formed payment id no payment has (ULIDs of real ids start with the time)."""
    return f"pay_{day:%Y%m%d}{'0' * 17}1"


def sandbox_settlement(
    provider: str, day: date, payments: Sequence[GatewayPayment]
) -> list[SettlementLine]:
    """What the provider's simulator settled for ``day``: its captures, gross, no fee; those
    that ``batch`` credits as one line carry that batch's reference (``payments``: all of the
    day's, so that the batch is the same whichever provider's report is asked for)."""
    in_batch = {p.payment_id for p in batched(sorted(payments, key=lambda p: p.payment_id))}
    ordered = sorted((p for p in payments if p.provider == provider), key=lambda p: p.payment_id)
    return [
        SettlementLine(
            provider,
            number,
            f"SBX{day:%Y%m%d}{number:06d}",
            p.provider_ref or p.payment_id,
            p.amount,
            0,
            p.currency,
            day,
            batch_reference(day) if p.payment_id in in_batch else None,
        )
        for number, p in enumerate(ordered, start=2)
    ]
