"""Builders for matching tests: payments and statement lines with readable defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime

from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.formats.statements import BookingStatus, Direction, StatementLine
from payments.reconcile.rules.matching import GatewayPayment

DAY = date(2025, 3, 12)  # a Wednesday
MORNING = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi


def pid(number: int) -> str:
    return f"pay_01JNZ8Q4J5K6M7N8P9Q{number:07d}"


def payment(
    number: int,
    amount: int = 1_250_000,
    *,
    captured_at: datetime = MORNING,
    provider: str = "vnpay",
    batch: str | None = None,
) -> GatewayPayment:
    return GatewayPayment(
        payment_id=pid(number),
        agency="1054321",
        amount=amount,
        currency="VND",
        treasury_code="0011",
        chapter="755",
        sub_item="2862",
        provider=provider,
        captured_at=captured_at,
        provider_ref=f"att_01JNZ8Q4J5K6M7N8P9Q{number:07d}",
        batch_reference=batch,
    )


def line(
    line_number: int,
    reference: str | None,
    amount: int = 1_250_000,
    *,
    booked: date = DAY,
    direction: Direction = Direction.CREDIT,
    status: BookingStatus = BookingStatus.BOOKED,
    batch: str | None = None,
    batch_count: int | None = None,
) -> StatementLine:
    return StatementLine(
        line_number=line_number,
        amount=amount,
        currency="VND",
        direction=direction,
        reversal=False,
        status=status,
        booking_date=booked,
        value_date=booked,
        bank_reference=f"KB{line_number}",
        end_to_end_id=reference,
        remittance=f"NOP NSNN {reference}",
        payment_reference=reference,
        batch_reference=batch,
        batch_count=batch_count,
        batch_total=amount if batch else None,
    )


def settled(line_number: int, reference: str, amount: int = 1_250_000) -> SettlementLine:
    return SettlementLine("vnpay", line_number, f"T{line_number}", reference, amount, 0, "VND", DAY)
