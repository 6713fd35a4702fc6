"""Every layout of a statement parses to the same lines, and every broken file is refused with
the parsers' own error.

Valid files are drawn by Hypothesis and written every way banks write them
(``tests/support/statement_layouts.py``): camt.053 and camt.054 in message versions .02 to .08,
pretty-printed or on one line, prefixed or not, LF or CRLF, with or without a BOM, read in
chunks of any size; CSV statements and settlement reports with LF or CRLF and with or without
a BOM. Broken ones (truncated, overwritten with garbage, the wrong root or header, bytes of
anything) give a ``StatementError``, never another exception; and whatever a parser returns,
its line numbers are strictly increasing, so no two lines of a file can be stored under one
(statement, line) key.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.settlements import (
    LAYOUTS,
    LineKind,
    SettlementLine,
    read_settlement,
)
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementError,
    StatementLine,
    read_all,
)
from tests.support.statement_layouts import (
    DAY,
    CamtLayout,
    CsvLayout,
    amounts,
    camt_layouts,
    csv_layouts,
    statements,
    words,
)

LAYOUT_RUNS = settings(max_examples=60, deadline=None, database=None)
CURRENCIES = st.sampled_from(["VND", "EUR"])


class Trickle(io.BytesIO):
    """A stream that hands out at most ``size`` bytes a read, as a socket might: the parser
    must not care where its reads end."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self._size = size

    def read(self, size: int | None = -1) -> bytes:
        wanted = self._size if size is None or size < 0 else min(size, self._size)
        return super().read(wanted)


def parsed_camt(data: bytes, read_size: int | None = None) -> list[StatementLine]:
    stream = io.BytesIO(data) if read_size is None else Trickle(data, read_size)
    return read_all(read_camt(stream))[1]


def _carried(line: StatementLine) -> tuple[object, ...]:
    """What a statement line says, as written (the parser adds the numbers and references)."""
    return (
        line.amount, line.currency, line.direction, line.reversal, line.status,
        line.booking_date, line.value_date, line.bank_reference, line.end_to_end_id,
        line.remittance, line.batch_reference, line.batch_count, line.batch_total,
        [(tx.amount, tx.end_to_end_id, tx.remittance) for tx in line.transactions],
    )  # fmt: skip


def assert_same_lines(written: Sequence[StatementLine], read: Sequence[StatementLine]) -> None:
    assert [_carried(line) for line in read] == [_carried(line) for line in written]


# --- valid files: the same lines whatever the layout ----------------------------------------


@LAYOUT_RUNS
@given(
    currency=CURRENCIES,
    data=st.data(),
    layouts=st.lists(camt_layouts, min_size=1, max_size=3),
    read_size=st.one_of(st.none(), st.integers(1, 300)),
)
def test_every_camt_layout_reads_as_the_same_lines(
    currency: str, data: st.DataObject, layouts: list[CamtLayout], read_size: int | None
) -> None:
    lines = data.draw(statements(currency))
    pretty = parsed_camt(CamtLayout().render(lines, currency))
    assert_same_lines(lines, pretty)
    # Entries are numbered in order, 1..N, whatever lines of the file they are on.
    assert [line.line_number for line in pretty] == list(range(1, len(lines) + 1))
    for layout in layouts:
        assert parsed_camt(layout.render(lines, currency), read_size) == pretty, layout


def booked(amount: int, bank_reference: str, remittance: str = "NOP NSNN") -> StatementLine:
    return StatementLine(
        0, amount, "VND", Direction.CREDIT, False, BookingStatus.BOOKED, DAY, DAY,
        bank_reference, None, remittance, None,
    )  # fmt: skip


def test_a_statement_on_one_line_is_numbered_by_its_entries() -> None:
    # The defect: every entry of a one-line file took line 1, and storing them failed.
    lines = [booked(150_000, "KB1"), booked(90_000, "KB2"), booked(40_000, "KB3")]
    one_line = CamtLayout(pretty=False).render(lines, "VND")
    assert b"\n" not in one_line
    read = parsed_camt(one_line)
    assert [line.line_number for line in read] == [1, 2, 3]
    assert read == parsed_camt(CamtLayout(crlf=True, bom=True).render(lines, "VND"))


def test_an_error_names_the_entry_and_where_it_starts_in_the_file() -> None:
    lines = [booked(150_000, "KB1"), booked(90_000, "KB2"), booked(40_000, "KB3")]
    data = CamtLayout(pretty=False).render(lines, "VND")
    third = data.index(b"<Ntry>", data.index(b"KB2"))
    data = data[:third] + data[third:].replace(b"CRDT", b"XXXX", 1)
    with pytest.raises(StatementError) as caught:
        parsed_camt(data)
    [error] = caught.value.line_errors
    assert (error.entry, error.line_number, error.column) == (3, 1, third + 1)
    assert str(error) == f"entry 3 (line 1, column {third + 1}): CdtDbtInd 'XXXX'"
    assert f"entry 3 (line 1, column {third + 1}): CdtDbtInd" in caught.value.detail
    assert caught.value.problems[0].field == "entry 3"
    # Pretty, the same entry is on a line of its own: its line, and its indentation.
    pretty = CamtLayout().render(lines, "VND")
    third = pretty.index(b"<Ntry>", pretty.index(b"KB2"))
    pretty = pretty[:third] + pretty[third:].replace(b"CRDT", b"XXXX", 1)
    with pytest.raises(StatementError) as caught:
        parsed_camt(pretty)
    [error] = caught.value.line_errors
    assert (error.entry, error.line_number, error.column) == (
        3,
        pretty.count(b"\n", 0, third) + 1,
        7,
    )


def test_columns_count_characters_as_expat_does() -> None:
    # "ễ" is three bytes but one character: columns, the entries' as expat's own, count it once.
    def columns(name: str) -> tuple[int | None, int | None]:
        data = CamtLayout(pretty=False).render([booked(1, name), booked(2, "KB2")], "VND")
        second = data.index(b"<Ntry>", data.index(b"KB2") - 300)
        bad_entry = data[:second] + data[second:].replace(b">2<", b">x<", 1)
        with pytest.raises(StatementError) as entry:
            parsed_camt(bad_entry)
        bad_xml = data[:second] + b"</Oops>" + data[second:]
        with pytest.raises(StatementError) as xml:
            parsed_camt(bad_xml)
        return entry.value.line_errors[0].column, xml.value.line_errors[0].column

    assert columns("Nguyen") == columns("Nguyễn")
    assert columns("Nguyen")[0] is not None


# --- CSV and settlement reports ---------------------------------------------------------------


@LAYOUT_RUNS
@given(
    currency=CURRENCIES,
    data=st.data(),
    layouts=st.lists(csv_layouts, min_size=1, max_size=3),
)
def test_every_csv_layout_reads_as_the_same_lines(
    currency: str, data: st.DataObject, layouts: list[CsvLayout]
) -> None:
    lines = data.draw(statements(currency, batches=False))
    plain = read_all(read_csv(io.BytesIO(CsvLayout().render(lines)), expected_currency=currency))[1]
    assert_same_lines(lines, plain)
    assert [line.line_number for line in plain] == list(range(2, len(lines) + 2))
    for layout in layouts:
        read = read_all(read_csv(io.BytesIO(layout.render(lines)), expected_currency=currency))
        assert read[1] == plain, layout


settlement_lines = st.builds(
    SettlementLine,
    provider=st.just("momo"),
    line_number=st.just(0),
    provider_txn_id=words,
    payment_reference=words,
    amount=amounts,
    fee=st.integers(0, 10_000),
    currency=st.just("VND"),
    settlement_date=st.just(DAY),
    batch_reference=st.one_of(st.none(), words),
    kind=st.just(LineKind.PAYMENT),
)


@LAYOUT_RUNS
@given(
    provider=st.sampled_from(sorted(LAYOUTS)),
    lines=st.lists(settlement_lines, max_size=6),
    layout=csv_layouts,
)
def test_every_settlement_layout_reads_as_the_same_lines(
    provider: str, lines: list[SettlementLine], layout: CsvLayout
) -> None:
    lines = [line._replace(provider=provider) for line in lines]
    read = read_settlement(provider, io.BytesIO(layout.render_settlement(provider, lines)))
    assert [line._replace(line_number=0) for line in read.require_clean()] == lines
    assert [line.line_number for line in read.lines] == list(range(2, len(lines) + 2))


# --- broken files: the parser's own error, never another exception ---------------------------


def _refused_or_read(parse: Callable[[], Sequence[int]]) -> None:
    """Run ``parse`` (the line numbers it read): a StatementError or lines, numbered
    strictly increasing; any other exception fails the test."""
    refused: StatementError | None = None
    try:
        numbers = parse()
    except StatementError as error:
        refused = error
    if refused is not None:
        assert str(refused), "an error says what is wrong"
        return
    assert list(numbers) == sorted(set(numbers))


def _camt_numbers(data: bytes) -> list[int]:
    return [line.line_number for line in read_all(read_camt(io.BytesIO(data)))[1]]


def _csv_numbers(data: bytes) -> list[int]:
    return [
        line.line_number
        for line in read_all(read_csv(io.BytesIO(data), expected_currency="VND"))[1]
    ]


def _settlement_numbers(data: bytes) -> list[int]:
    return [line.line_number for line in read_settlement("vnpay", io.BytesIO(data)).require_clean()]


@LAYOUT_RUNS
@given(data=st.data(), layout=camt_layouts, currency=CURRENCIES)
def test_a_truncated_camt_is_refused(
    data: st.DataObject, layout: CamtLayout, currency: str
) -> None:
    lines = data.draw(statements(currency))
    whole = layout.render(lines, currency)
    closing = whole.rindex(b"</")  # anything cut before the root's end tag is unclosed
    cut = data.draw(st.integers(0, closing))
    with pytest.raises(StatementError):
        read_all(read_camt(io.BytesIO(whole[:cut])))


@LAYOUT_RUNS
@given(data=st.data(), layout=camt_layouts, garbage=st.binary(min_size=1, max_size=16))
def test_camt_with_garbage_bytes_is_refused_or_read(
    data: st.DataObject, layout: CamtLayout, garbage: bytes
) -> None:
    whole = layout.render(data.draw(statements("VND")), "VND")
    at = data.draw(st.integers(0, len(whole)))
    _refused_or_read(lambda: _camt_numbers(whole[:at] + garbage + whole[at + len(garbage) :]))


@pytest.mark.parametrize(
    "root",
    [b"BkToCstmrAcctRpt", b"CstmrCdtTrfInitn", b"Stmt"],  # camt.052, pain.001, a part
)
def test_the_wrong_root_is_refused(root: bytes) -> None:
    data = CamtLayout().render([booked(1, "KB1")], "VND").replace(b"BkToCstmrStmt", root)
    with pytest.raises(StatementError, match=r"not a camt\.053 or camt\.054 document"):
        read_all(read_camt(io.BytesIO(data)))


@LAYOUT_RUNS
@given(data=st.binary(max_size=600))
@example(data=b'<?xml version="1.0" encoding="rot13"?><Document/>')
@example(data=b'<?xml version="1.0" encoding="shift_jis"?><Document/>')
@example(data=b"<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy='VND'>1E+999999</Amt>")
def test_any_bytes_as_camt_are_refused_or_read(data: bytes) -> None:
    _refused_or_read(lambda: _camt_numbers(data))


@LAYOUT_RUNS
@given(data=st.data(), layout=csv_layouts, garbage=st.binary(min_size=1, max_size=16))
def test_csv_truncated_or_with_garbage_is_refused_or_read(
    data: st.DataObject, layout: CsvLayout, garbage: bytes
) -> None:
    whole = layout.render(data.draw(statements("VND", batches=False)))
    at = data.draw(st.integers(0, len(whole)))
    _refused_or_read(lambda: _csv_numbers(whole[:at]))
    _refused_or_read(lambda: _csv_numbers(whole[:at] + garbage + whole[at + len(garbage) :]))


@LAYOUT_RUNS
@given(data=st.data(), layout=csv_layouts, garbage=st.binary(min_size=1, max_size=16))
def test_settlement_truncated_or_with_garbage_is_refused_or_read(
    data: st.DataObject, layout: CsvLayout, garbage: bytes
) -> None:
    lines = [line._replace(provider="vnpay") for line in data.draw(st.lists(settlement_lines))]
    whole = layout.render_settlement("vnpay", lines)
    at = data.draw(st.integers(0, len(whole)))
    _refused_or_read(lambda: _settlement_numbers(whole[:at]))
    _refused_or_read(lambda: _settlement_numbers(whole[:at] + garbage + whole[at + len(garbage) :]))


@LAYOUT_RUNS
@given(data=st.binary(max_size=600))
@example(data=b'"unterminated\n')
@example(data=b"a" * 200_000 + b",amount\n")
def test_any_bytes_as_csv_or_a_report_are_refused_or_read(data: bytes) -> None:
    _refused_or_read(lambda: _csv_numbers(data))
    _refused_or_read(lambda: _settlement_numbers(data))


def test_csv_without_the_required_columns_is_refused() -> None:
    with pytest.raises(StatementError, match="required column"):
        read_all(read_csv(io.BytesIO(b"date,value\n2025-03-12,1\n"), expected_currency="VND"))
    with pytest.raises(StatementError, match="lacks vnp_Amount"):
        read_settlement("vnpay", io.BytesIO(b"vnp_TxnRef,vnp_TransactionNo\n"))


@LAYOUT_RUNS
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans()),
        max_size=8,
    ),
)
def test_csv_lines_never_share_a_number_whatever_the_line_ends(
    rows: list[tuple[str, bool, bool]],
) -> None:
    """LF, CRLF or a lone CR; blank lines; newlines inside quoted cells: each row keeps a
    number of its own, in the statements' CSV as in the settlement reports'."""
    statement = "booking_date,amount,currency,remittance\n"
    report = "vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"
    for n, (end, blank, quoted_newline) in enumerate(rows):
        text = '"NOP\nNSNN"' if quoted_newline else "NOP"
        statement += f"2025-03-12,{n + 1},VND,{text}{end}" + (end if blank else "")
        report += f"att_{n},{n},{(n + 1) * 100},0,20250312{end}" + (end if blank else "")
    numbers = _csv_numbers(statement.encode())
    assert len(numbers) == len(rows)
    assert numbers == sorted(set(numbers))
    numbers = _settlement_numbers(report.encode())
    assert len(numbers) == len(rows)
    assert numbers == sorted(set(numbers))
