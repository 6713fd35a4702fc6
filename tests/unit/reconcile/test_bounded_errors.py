"""A file of bad lines costs no more memory than a good one: the parsers keep the first
``SHOWN_LINE_ERRORS`` line errors and count the rest, and the count still reaches the error
(what a 422's ``more_line_errors`` is made of). Settlement reports, parsed whole before they
are stored, have a cap of their own, checked before parsing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.settlements import SETTLEMENT_MAX_BYTES, read_settlement
from payments.reconcile.formats.statements import SHOWN_LINE_ERRORS, StatementError, read_all

BAD = 200_000  # lines: as LineError objects, tens of megabytes if all were kept


def test_a_csv_of_bad_lines_keeps_the_first_errors_and_counts_them_all() -> None:
    data = b"booking_date,amount,currency\n" + b"x\n" * BAD
    reader = read_csv(io.BytesIO(data), expected_currency="VND")
    with pytest.raises(StatementError) as caught:
        read_all(reader)
    assert reader.errors.total == BAD
    assert len(reader.errors) == SHOWN_LINE_ERRORS  # what is held in memory
    error = caught.value
    assert error.line_error_count == BAD
    assert [e.line_number for e in error.line_errors] == list(range(2, 2 + SHOWN_LINE_ERRORS))
    assert str(error.detail).startswith(f"{BAD} malformed line(s): line 2: 1 fields")
    assert str(error.detail).endswith(f"(and {BAD - 20} more)")


def test_a_settlement_report_of_bad_lines_keeps_the_first_errors() -> None:
    data = b"orderId,transId,amount,fee,settlementDate\n" + b"a,1,abc,0,2025-03-12\n" * BAD
    report = read_settlement("momo", io.BytesIO(data))
    assert report.lines == []
    assert report.errors.total == BAD
    assert len(report.errors) == SHOWN_LINE_ERRORS
    with pytest.raises(StatementError) as caught:
        report.require_clean()
    assert caught.value.line_error_count == BAD
    assert len(caught.value.line_errors) == SHOWN_LINE_ERRORS


def test_a_camt_of_bad_entries_keeps_the_first_errors() -> None:
    entry = "<Ntry><Amt Ccy='VND'>100</Amt><CdtDbtInd>XX</CdtDbtInd></Ntry>\n"
    data = (
        '<?xml version="1.0"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n'
        "<BkToCstmrStmt><Stmt><Id>S1</Id>\n"
        + entry * 1_000
        + "</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()
    reader = read_camt(io.BytesIO(data))
    with pytest.raises(StatementError) as caught:
        read_all(reader)
    assert caught.value.line_error_count == 1_000
    assert len(caught.value.line_errors) == SHOWN_LINE_ERRORS
    assert caught.value.line_errors[0].line_number == 4  # the first entry's line


class _Unseekable(io.RawIOBase):
    """A stream that cannot tell its size up front (a socket, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


REPORT = b"orderId,transId,amount,fee,settlementDate\n" + b"att_1,1,150000,0,2025-03-12\n" * 10


def test_a_settlement_report_above_its_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    assert SETTLEMENT_MAX_BYTES == 64 << 20
    limit = len(REPORT) - 1
    path = tmp_path / "momo.csv"
    path.write_bytes(REPORT)
    for source in (path, io.BytesIO(REPORT), io.BufferedReader(_Unseekable(REPORT))):
        with pytest.raises(StatementError) as caught:
            read_settlement("momo", source, max_bytes=limit)
        assert f"limited to {limit} bytes" in str(caught.value.detail) or (
            f"larger than {limit} bytes" in str(caught.value.detail)
        )
    # At the cap it is read as usual, from any kind of source.
    for source in (path, io.BytesIO(REPORT), io.BufferedReader(_Unseekable(REPORT))):
        assert len(read_settlement("momo", source, max_bytes=len(REPORT)).require_clean()) == 10
