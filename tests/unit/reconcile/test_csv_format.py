"""CSV statements: the default layout, mapped layouts, and malformed files."""

from __future__ import annotations

import io
from datetime import date

import pytest

from payments.reconcile.formats.csv_format import CsvMapping, read_csv
from payments.reconcile.formats.statements import (
    Direction,
    StatementError,
    StatementFormat,
    read_all,
)

PID = "pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"


def test_default_layout() -> None:
    data = (
        "booking_date,amount,currency,direction,bank_reference,end_to_end_id,remittance\n"
        f"2025-03-12,1250000,VND,credit,KB1,{PID},NOP LE PHI\n"
        "2025-03-12,500000,VND,D,KB2,,chi phi\n"
    ).encode()
    statement, lines = read_all(read_csv(io.BytesIO(data)))
    assert statement.format is StatementFormat.CSV
    assert (statement.currency, statement.line_count) == ("VND", 2)
    assert statement.statement_id == statement.content_hash
    assert statement.period_start == statement.period_end == date(2025, 3, 12)
    first, second = lines
    assert (first.line_number, first.amount, first.payment_reference) == (2, 1250000, PID)
    assert first.bank_reference == "KB1"
    assert first.remittance == "NOP LE PHI"
    assert (second.line_number, second.direction) == (3, Direction.DEBIT)
    assert second.payment_reference is None


def test_mapping_with_semicolons_comma_decimals_day_first_dates_and_bom() -> None:
    mapping = CsvMapping.from_dict(
        {
            "columns": {
                "booking_date": "Ngay hach toan",
                "amount": "So tien",
                "remittance": "Noi dung",
                "payment_reference": None,
            },
            "currency": None,
            "default_currency": "USD",
            "delimiter": ";",
            "decimal_separator": ",",
            "thousands_separator": ".",
            "date_format": "%d/%m/%Y",
        }
    )
    data = (
        "\ufeffNgay hach toan;So tien;Noi dung\n"
        f"12/03/2025;1.250,50;Nộp phí {PID.upper().replace('_', '')}\n"
        "13/03/2025;7,05;khác\n"
    ).encode()
    statement, lines = read_all(read_csv(io.BytesIO(data), mapping))
    assert statement.currency == "USD"
    assert [line.amount for line in lines] == [125050, 705]
    assert [line.booking_date for line in lines] == [date(2025, 3, 12), date(2025, 3, 13)]
    assert lines[0].payment_reference == PID
    assert lines[1].remittance == "khác"


def test_malformed_lines_are_reported_and_the_rest_is_read() -> None:
    data = (
        b"booking_date,amount,currency\n"
        b"2025-03-12,100,VND\n"
        b"2025-13-12,100,VND\n"  # no 13th month
        b"2025-03-12,12.5,VND\n"  # VND has no decimals
        b"2025-03-12,100\n"  # a field short
        b"2025-03-12,abc,VND\n"
        b"2025-03-12,300,USD\n"  # wrong currency for this statement
        b"2025-03-12,200,VND\n"
    )
    reader = read_csv(io.BytesIO(data))
    assert [line.amount for line in reader] == [100, 200]
    assert [error.line_number for error in reader.errors] == [3, 4, 5, 6, 7]
    assert "does not match %Y-%m-%d" in reader.errors[0].message
    assert "more decimals than VND allows" in reader.errors[1].message
    assert "2 fields, the header has 3" in reader.errors[2].message
    assert "currency 'USD', the statement is VND" in reader.errors[4].message
    with pytest.raises(StatementError, match=r"5 malformed line\(s\): line 3: ") as caught:
        read_all(read_csv(io.BytesIO(data)))
    assert [problem.field for problem in caught.value.problems][:2] == ["line 3", "line 4"]


def test_unterminated_quote_is_reported_with_its_line() -> None:
    data = b'booking_date,amount,currency,remittance\n2025-03-12,1,VND,"open\n'
    reader = read_csv(io.BytesIO(data), expected_currency="VND")
    assert list(reader) == []
    assert reader.errors[0].line_number == 2  # where the unterminated record starts
    assert "malformed CSV" in reader.errors[0].message


def test_file_level_problems_reject_the_file() -> None:
    with pytest.raises(StatementError, match="required column"):
        list(read_csv(io.BytesIO(b"date,amount\n2025-03-12,1\n")))
    with pytest.raises(StatementError, match="empty file"):
        list(read_csv(io.BytesIO(b"")))
    with pytest.raises(StatementError, match="line 3: not utf-8-sig text"):
        list(read_csv(io.BytesIO(b"booking_date,amount,currency\n2025-03-12,1,VND\n\xff\xfe,2\n")))
    with pytest.raises(StatementError, match="no currency column"):
        list(read_csv(io.BytesIO(b"booking_date,amount\n2025-03-12,1\n")))


def test_wrong_currency_for_the_import() -> None:
    data = b"booking_date,amount,currency\n2025-03-12,1,EUR\n"
    reader = read_csv(io.BytesIO(data), expected_currency="VND")
    assert list(reader) == []
    assert "currency 'EUR', the statement is VND" in reader.errors[0].message


def test_mapping_refuses_unknown_keys_and_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown mapping keys: amout"):
        CsvMapping.from_dict({"amout": "x"})
    with pytest.raises(ValueError, match="must differ"):
        CsvMapping(decimal_separator=",", thousands_separator=",")
    with pytest.raises(ValueError, match="must name the amount column"):
        CsvMapping(amount=None)
    with pytest.raises(LookupError):
        CsvMapping(encoding="no-such-encoding")


def test_the_reference_column_is_configurable() -> None:
    mapping = CsvMapping.from_dict({"payment_reference": "Ma tham chieu"})
    data = f"booking_date,amount,currency,Ma tham chieu\n2025-03-12,5,VND,{PID}\n".encode()
    _, [line] = read_all(read_csv(io.BytesIO(data), mapping))
    assert line.payment_reference == PID
