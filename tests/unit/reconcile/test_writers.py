"""The statement writers produce files the parsers read back to the same lines."""

from __future__ import annotations

import io
from datetime import date

from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementLine,
    Transaction,
    read_all,
)
from payments.reconcile.formats.writers import camt053, csv_statement, major_units
from tests.unit.reconcile.stories import DAY, line, pid

BATCH = StatementLine(
    line_number=0,
    amount=3_000_000,
    currency="VND",
    direction=Direction.CREDIT,
    reversal=False,
    status=BookingStatus.BOOKED,
    booking_date=DAY,
    value_date=DAY,
    bank_reference="KB-BATCH",
    end_to_end_id=None,
    remittance="",
    payment_reference=None,
    batch_reference="B-1",
    batch_count=2,
    batch_total=3_000_000,
    transactions=(
        Transaction(1_000_000, pid(1), pid(1), "NOP NSNN"),
        Transaction(2_000_000, pid(2), pid(2), "NOP NSNN"),
    ),
)


def essentials(found: StatementLine) -> tuple[object, ...]:
    return (
        found.amount,
        found.direction,
        found.status,
        found.booking_date,
        found.payment_reference,
        found.batch_reference,
        found.batch_count,
    )


def test_major_units_never_go_through_float() -> None:
    assert major_units(1_250_000, "VND") == "1250000"
    assert major_units(1250, "EUR") == "12.50"
    assert major_units(5, "EUR") == "0.05"


def test_csv_round_trip() -> None:
    lines = [
        line(1, pid(1)),
        line(2, pid(2), 99, direction=Direction.DEBIT),
        line(3, pid(3), status=BookingStatus.PENDING),
    ]
    text = "".join(csv_statement(lines))
    _, found = read_all(read_csv(io.BytesIO(text.encode())))
    assert [essentials(f) for f in found] == [essentials(x) for x in lines]
    assert [f.line_number for f in found] == [2, 3, 4]


def test_camt_round_trip_with_a_batch_entry() -> None:
    lines = [line(1, pid(1), booked=date(2025, 3, 13)), BATCH]
    text = "".join(camt053(lines, statement_id="KBNN-1", account="7111-1", currency="VND", day=DAY))
    statement, found = read_all(read_camt(io.BytesIO(text.encode())))
    assert statement.statement_id == "KBNN-1"
    assert [essentials(f) for f in found] == [essentials(x) for x in lines]
    assert [(t.amount, t.payment_reference) for t in found[1].transactions] == [
        (1_000_000, pid(1)),
        (2_000_000, pid(2)),
    ]
