"""Nothing unbounded from a statement reaches storage: every stored text of a line has a limit,
and so have amounts, counts and totals; a line past one is refused with its number (a CSV
line, a camt entry) and the field's name, in CSV statements, camt files and the providers'
settlement reports alike. The storage's columns are at least as wide as the limits."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import String, Table, Text

from payments.ledger.entries import MAX_LEG_AMOUNT
from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.formats.statements import (
    HEADER_TEXT_LIMITS,
    MAX_AMOUNT,
    MAX_TOTAL,
    SETTLEMENT_TEXT_LIMITS,
    TEXT_LIMITS,
    BookingStatus,
    Direction,
    StatementError,
    StatementLine,
    Transaction,
    read_all,
)
from payments.reconcile.storage.tables import (
    reconcile_items,
    reconcile_settlement_lines,
    reconcile_statement_lines,
    reconcile_statements,
)
from payments.reconcile.usecases.imports import import_statement
from tests.support.statement_layouts import CamtLayout
from tests.unit.fakes import FakeUnitOfWorkFactory

DAY = date(2025, 3, 12)
NOON = datetime(2025, 3, 12, 5, tzinfo=UTC)
CSV_HEADER = "booking_date,amount,currency,bank_reference,end_to_end_id,remittance,batch_reference"
MOMO_HEADER = "orderId,transId,amount,fee,settlementDate,batchId\n"


def width(table: Table, column: str) -> int | None:
    """The most characters the column stores; None: unbounded (Text)."""
    kind = table.c[column].type
    assert isinstance(kind, String | Text), (table.name, column)
    return None if isinstance(kind, Text) or kind.length is None else kind.length


@pytest.mark.parametrize(
    ("table", "limits"),
    [
        (reconcile_statement_lines, TEXT_LIMITS),
        (reconcile_settlement_lines, SETTLEMENT_TEXT_LIMITS),
        (reconcile_statements, HEADER_TEXT_LIMITS),
    ],
)
def test_every_limit_fits_its_column(table: Table, limits: dict[str, int]) -> None:
    for field, limit in limits.items():
        column = width(table, field)
        assert column is None or column >= limit, (table.name, field, column, limit)


def test_every_stored_text_of_a_line_has_a_limit() -> None:
    # A text column of the lines without a limit is a field someone forgot.
    keyed = {"statement_id", "line_number"}
    for table, limits, fixed in (
        (reconcile_statement_lines, TEXT_LIMITS, {"currency", "direction", "status"}),
        (reconcile_settlement_lines, SETTLEMENT_TEXT_LIMITS, {"provider", "currency", "kind"}),
    ):
        texts = {c.name for c in table.c if isinstance(c.type, String | Text)} - keyed
        assert texts - fixed == set(limits), table.name


def test_items_hold_what_lines_carry_into_them() -> None:
    # An item's reference is a line's payment reference (a report's may be any text) and its
    # batch reference a line's.
    reference = width(reconcile_items, "reference")
    batch = width(reconcile_items, "batch_reference")
    assert reference is not None
    assert reference >= max(
        TEXT_LIMITS["payment_reference"], SETTLEMENT_TEXT_LIMITS["payment_reference"]
    )
    assert batch is not None
    assert batch >= max(TEXT_LIMITS["batch_reference"], SETTLEMENT_TEXT_LIMITS["batch_reference"])


def test_an_amount_is_never_more_than_the_ledger_can_book() -> None:
    assert MAX_AMOUNT == MAX_LEG_AMOUNT


# --- CSV statements -------------------------------------------------------------------------


def csv_errors(*rows: str) -> list[str]:
    data = (CSV_HEADER + "\n" + "".join(row + "\n" for row in rows)).encode()
    reader = read_csv(io.BytesIO(data), expected_currency="VND")
    list(reader)
    return [str(error) for error in reader.errors]


@pytest.mark.parametrize(
    ("column", "field"),
    [(3, "bank_reference"), (4, "end_to_end_id"), (5, "remittance"), (6, "batch_reference")],
)
def test_a_csv_text_past_its_limit_is_a_line_error(column: int, field: str) -> None:
    limit = TEXT_LIMITS[field]
    cells = ["2025-03-12", "1000", "VND", "", "", "", ""]
    at_limit, past = list(cells), list(cells)
    at_limit[column] = "x" * limit
    past[column] = "y" * (limit + 1)
    assert csv_errors(",".join(at_limit), ",".join(past)) == [
        f"line 3: {field} is {limit + 1} characters long, at most {limit} are accepted"
    ]


def test_a_csv_line_with_a_nul_is_a_line_error() -> None:
    # PostgreSQL stores no NUL in text: refused here, not by the database (a 500).
    assert csv_errors("2025-03-12,1000,VND,,,NOP\x00NSNN,") == [
        "line 2: remittance contains a NUL character"
    ]


def test_csv_amounts_and_counts_past_their_limits() -> None:
    data = (
        "booking_date,amount,currency,batch_reference,batch_count,batch_total\n"
        f"2025-03-12,{MAX_AMOUNT},VND,B1,2,{MAX_AMOUNT}\n"
        f"2025-03-12,{MAX_AMOUNT + 1},VND,,,\n"
        f"2025-03-12,{'9' * 30},VND,,,\n"
        "2025-03-12,1,VND,B2,10000000000,1\n"
        f"2025-03-12,1,VND,B3,2,{MAX_AMOUNT + 1}\n"
    ).encode()
    reader = read_csv(io.BytesIO(data), expected_currency="VND")
    assert [line.amount for line in reader] == [MAX_AMOUNT]
    assert [str(error) for error in reader.errors] == [
        f"line 3: amount {MAX_AMOUNT + 1} is more than {MAX_AMOUNT} minor units",
        f"line 4: amount: '{'9' * 30}' is too long for an amount",
        "line 5: batch_count 10000000000 is more than 1000000000",
        f"line 6: batch_total: '{MAX_AMOUNT + 1}' is more than {MAX_AMOUNT} minor units",
    ]


def test_a_long_cell_is_cut_short_in_the_message() -> None:
    [message] = csv_errors("2025-03-12," + "z" * 100_000 + ",VND,,,,")
    assert len(message) < 200
    assert "(100000 characters)" in message


# --- camt -----------------------------------------------------------------------------------


def entry() -> StatementLine:
    return StatementLine(
        0, 150_000, "VND", Direction.CREDIT, False, BookingStatus.BOOKED, DAY, DAY,
        "KB1", "E2E1", "NOP NSNN", None,
    )  # fmt: skip


def with_text(field: str, value: str) -> StatementLine:
    return StatementLine._make(
        value if name == field else old
        for name, old in zip(StatementLine._fields, entry(), strict=True)
    )


def camt_errors(*lines: StatementLine) -> list[str]:
    reader = read_camt(io.BytesIO(CamtLayout().render(lines, "VND")))
    list(reader)
    return [str(error) for error in reader.errors]


def test_a_camt_end_to_end_id_of_three_megabytes_is_refused_by_its_entry() -> None:
    huge = "E" * (3 << 20)
    [message] = camt_errors(entry(), entry()._replace(end_to_end_id=huge))
    assert message.startswith("entry 2 (line ")
    assert message.endswith(f"end_to_end_id is {3 << 20} characters long, at most 140 are accepted")
    with pytest.raises(StatementError, match="entry 2"):
        read_all(
            read_camt(
                io.BytesIO(
                    CamtLayout(pretty=False).render(
                        [entry(), entry()._replace(end_to_end_id=huge)], "VND"
                    )
                )
            )
        )


@pytest.mark.parametrize("field", ["bank_reference", "end_to_end_id", "remittance"])
def test_camt_texts_at_and_past_their_limits(field: str) -> None:
    limit = TEXT_LIMITS[field]
    assert camt_errors(with_text(field, "a" * limit)) == []
    [message] = camt_errors(with_text(field, "a" * (limit + 1)))
    assert message.endswith(
        f": {field} is {limit + 1} characters long, at most {limit} are accepted"
    )


def test_a_batch_transaction_past_a_limit_names_the_transaction() -> None:
    batch = entry()._replace(
        end_to_end_id=None,
        remittance="",
        batch_reference="B1",
        batch_count=2,
        batch_total=150_000,
        transactions=(
            Transaction(100_000, "E1", None, "ok"),
            Transaction(50_000, "E" * 141, None, "ok"),
        ),
    )
    [message] = camt_errors(batch)
    assert message.endswith(
        ": transaction 2: end_to_end_id is 141 characters long, at most 140 are accepted"
    )
    [message] = camt_errors(
        batch._replace(batch_reference="B" * 141, transactions=batch.transactions[:1] * 2)
    )
    assert message.endswith(": batch_reference is 141 characters long, at most 140 are accepted")


def test_camt_amounts_past_the_limit() -> None:
    data = CamtLayout().render(
        [entry()._replace(amount=MAX_AMOUNT), entry()._replace(amount=MAX_AMOUNT + 1)], "VND"
    )
    reader = read_camt(io.BytesIO(data))
    assert [line.amount for line in reader] == [MAX_AMOUNT]
    [error] = reader.errors
    assert error.entry == 2
    assert error.message == f"amount: '{MAX_AMOUNT + 1}' is more than {MAX_AMOUNT} minor units"


@pytest.mark.parametrize(
    ("old", "new"), [(b"<Id>KBNN-1</Id>", "statement_id"), (b"<Id>7111</Id>", "account")]
)
def test_a_camt_header_past_its_limit_refuses_the_file(old: bytes, new: str) -> None:
    limit = HEADER_TEXT_LIMITS[new]
    data = (
        CamtLayout()
        .render([entry()], "VND")
        .replace(old, b"<Id>" + b"I" * (limit + 1) + b"</Id>", 1)
    )
    with pytest.raises(StatementError, match=f"statement header: {new} is {limit + 1} characters"):
        read_all(read_camt(io.BytesIO(data)))


# --- settlement reports -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            f"{'r' * 101},T1,1000,0,2025-03-12,",
            "orderId is 101 characters long, at most 100 are accepted",
        ),
        (
            f"att_1,{'t' * 101},1000,0,2025-03-12,",
            "transId is 101 characters long, at most 100 are accepted",
        ),
        (
            f"att_1,T1,1000,0,2025-03-12,{'b' * 141}",
            "batchId is 141 characters long, at most 140 are accepted",
        ),
        ("att_1,T\x001,1000,0,2025-03-12,", "transId contains a NUL character"),
        (
            f"att_1,T1,{MAX_AMOUNT + 1},0,2025-03-12,",
            f"amount '{MAX_AMOUNT + 1}' is more than {MAX_AMOUNT} minor units",
        ),
        (
            f"att_1,T1,1000,{'9' * 25},2025-03-12,",
            f"fee '{'9' * 25}' is more than {MAX_AMOUNT} minor units",
        ),
        (
            "att_1,T1,1000,0," + "d" * 100 + ",",
            f"settlementDate '{'d' * 40}'... (100 characters) does not match %Y-%m-%d",
        ),
    ],
)
def test_a_report_line_past_a_limit_names_its_column(row: str, message: str) -> None:
    data = (MOMO_HEADER + "att_0,T0,1000,0,2025-03-12,\n" + row + "\n").encode()
    report = read_settlement("momo", io.BytesIO(data))
    assert [line.payment_reference for line in report.lines] == ["att_0"]
    assert [str(error) for error in report.errors] == [f"line 3: {message}"]


# --- totals ---------------------------------------------------------------------------------


async def test_a_statement_whose_total_cannot_be_stored_is_refused_whole() -> None:
    rows = MAX_TOTAL // MAX_AMOUNT + 1
    data = ("booking_date,amount,currency\n" + f"2025-03-12,{MAX_AMOUNT},VND\n" * rows).encode()
    uow = FakeUnitOfWorkFactory()
    with pytest.raises(StatementError, match="credits add up to"):
        await import_statement(
            uow, read_csv(io.BytesIO(data)), business_date=DAY, actor="ops", now=NOON
        )
    assert uow.store.reconciliation.statements == {}
