"""Treasury statements as CSV: a default layout and a per-source column mapping.

Default layout (UTF-8, with or without BOM; comma-delimited; a header line; ``.`` decimals):

=================  ========  =============================================================
column             required  meaning
=================  ========  =============================================================
booking_date       yes       ``YYYY-MM-DD``
value_date         no        ``YYYY-MM-DD``
amount             yes       decimal in major units (``1250000`` VND, ``12.50`` EUR), > 0
currency           no        ISO 4217; when absent the mapping's ``currency`` is used
direction          no        ``credit``/``debit`` (also ``C``/``D``, ``CR``/``DR``,
                             ``CRDT``/``DBIT``); absent: credit
status             no        ``booked`` (``BOOK``) or ``pending`` (``PDNG``); absent: booked
reversal           no        ``true``/``false`` (``1``/``0``, ``yes``/``no``)
bank_reference     no        the bank's id of the booking
end_to_end_id      no        the end-to-end id the payer's bank carried
payment_reference  no        the gateway reference (``pay_…``); when empty it is searched in
                             end_to_end_id, then remittance
remittance         no        free text
batch_reference    no        one line covering several payments: their batch reference
batch_count        no        number of payments in the batch
batch_total        no        the batch total (decimal, like amount)
=================  ========  =============================================================

Every name, the delimiter, encoding, decimal and thousands separators and the date format can
be changed with ``CsvMapping`` (``CsvMapping.from_dict`` reads the same keys from TOML/JSON).

Errors: a missing required column, an undecodable byte or an unknown currency in the
configuration reject the file (``StatementError``). A bad row (wrong field count, bad amount,
date, currency or direction, a text past its limit: ``statements.TEXT_LIMITS``) is recorded in
``reader.errors`` with its line number (the first ``SHOWN_LINE_ERRORS`` kept, every one
counted) and parsing goes on; ``statements.read_all`` then rejects the file listing them.

A row is numbered by the physical line it ends on (``csv.reader.line_num``): every row read
takes at least one line of its own, so two rows never share a number, whatever the line
endings (LF, CRLF, a lone CR) or the newlines inside quoted cells.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from payments.domain.money import is_known_currency
from payments.reconcile.formats.statements import (
    MAX_AMOUNT,
    MAX_BATCH_COUNT,
    TEXT_LIMITS,
    BookingStatus,
    Direction,
    HashingReader,
    LineError,
    LineErrors,
    Statement,
    StatementError,
    StatementFormat,
    StatementLine,
    check_currency,
    extract_reference,
    line_problem,
    minor_units,
    shown,
)

_new_tuple = tuple.__new__
_join = "".join
_DIRECTIONS = {
    "credit": Direction.CREDIT, "c": Direction.CREDIT, "cr": Direction.CREDIT,
    "crdt": Direction.CREDIT, "+": Direction.CREDIT,
    "debit": Direction.DEBIT, "d": Direction.DEBIT, "dr": Direction.DEBIT,
    "dbit": Direction.DEBIT, "-": Direction.DEBIT,
}  # fmt: skip
_STATUSES = {
    "booked": BookingStatus.BOOKED, "book": BookingStatus.BOOKED,
    "pending": BookingStatus.PENDING, "pdng": BookingStatus.PENDING,
    "info": BookingStatus.INFO,
}  # fmt: skip
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})
_FIELDS = (
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "direction",
    "status",
    "reversal",
    "bank_reference",
    "end_to_end_id",
    "payment_reference",
    "remittance",
    "batch_reference",
    "batch_count",
    "batch_total",
)
_REQUIRED = ("booking_date", "amount")
_FAST_DIGITS = 18  # a whole amount this long needs no Decimal (longer: minor_units says why)
# A row whose cells hold this many characters in all cannot have one past its limit: only a
# longer row (or one with a NUL) is checked field by field. The payment reference is not
# among them: it is never copied from the file, but found in it (``extract_reference``).
_SHORT_ROW = min(
    TEXT_LIMITS[name]
    for name in ("bank_reference", "end_to_end_id", "remittance", "batch_reference")
)


@dataclass(frozen=True)
class CsvMapping:
    """Where each field sits in a source's CSV. A column set to None is absent from the file."""

    booking_date: str | None = "booking_date"
    value_date: str | None = "value_date"
    amount: str | None = "amount"
    currency: str | None = "currency"
    direction: str | None = "direction"
    status: str | None = "status"
    reversal: str | None = "reversal"
    bank_reference: str | None = "bank_reference"
    end_to_end_id: str | None = "end_to_end_id"
    payment_reference: str | None = "payment_reference"
    remittance: str | None = "remittance"
    batch_reference: str | None = "batch_reference"
    batch_count: str | None = "batch_count"
    batch_total: str | None = "batch_total"
    date_format: str = "%Y-%m-%d"
    decimal_separator: str = "."
    thousands_separator: str = ""
    encoding: str = "utf-8-sig"  # also reads plain UTF-8
    delimiter: str = ","
    # The statement's currency when the file has no currency column (or as a check if it has).
    default_currency: str | None = None
    statement_id: str | None = None  # CSV files rarely carry one: the content hash stands in
    account: str = ""

    def __post_init__(self) -> None:
        for name in _REQUIRED:
            if getattr(self, name) is None:
                raise ValueError(f"the mapping must name the {name} column")
        if len(self.delimiter) != 1:
            raise ValueError("delimiter must be one character")
        if self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal and thousands separators must differ")
        if self.default_currency is not None and not is_known_currency(self.default_currency):
            raise ValueError(f"unknown currency {self.default_currency!r}")
        codecs.lookup(self.encoding)  # LookupError for an unknown encoding

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CsvMapping:
        """Build from configuration; unknown keys are refused (a typo must not pass silently).

        Column names may also sit in a nested ``columns`` table: ``{"columns": {"amount": "So
        tien"}, "delimiter": ";"}``.
        """
        known = {f.name for f in fields(cls)}
        flat: dict[str, object] = {k: v for k, v in data.items() if k != "columns"}
        columns = data.get("columns", {})
        if not isinstance(columns, Mapping):
            raise ValueError("columns must be a table of field -> header name")
        flat.update(columns)
        unknown = sorted(set(flat) - known)
        if unknown:
            raise ValueError(f"unknown mapping keys: {', '.join(unknown)}")
        for key, value in flat.items():
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} must be a string")
        return cls(**flat)  # type: ignore[arg-type]


DEFAULT_MAPPING = CsvMapping()


def read_csv(
    source: BinaryIO | Path,
    mapping: CsvMapping = DEFAULT_MAPPING,
    *,
    source_name: str = "treasury",
    expected_currency: str | None = None,
) -> CsvStatementReader:
    return CsvStatementReader(
        source, mapping, source_name=source_name, expected_currency=expected_currency
    )


class CsvStatementReader:
    def __init__(
        self,
        source: BinaryIO | Path,
        mapping: CsvMapping,
        *,
        source_name: str,
        expected_currency: str | None,
    ) -> None:
        self._source = source
        self._mapping = mapping
        self._source_name = source_name
        self._expected = expected_currency or mapping.default_currency
        if expected_currency and mapping.default_currency not in (None, expected_currency):
            raise StatementError(
                f"the mapping says {mapping.default_currency}, the import expects "
                f"{expected_currency}"
            )
        self.errors = LineErrors()
        self._statement: Statement | None = None
        self._currency: str | None = self._expected
        self._dates: dict[str, date] = {}
        self._scale = 0
        self._plain_amounts = not mapping.thousands_separator and mapping.decimal_separator == "."

    @property
    def statement(self) -> Statement:
        if self._statement is None:
            raise RuntimeError("read the lines first: the header is known at the end of the file")
        return self._statement

    def __iter__(self) -> Iterator[StatementLine]:
        if isinstance(self._source, Path):
            with self._source.open("rb") as stream:
                yield from self._parse(stream)
        else:
            yield from self._parse(self._source)

    def _parse(self, stream: BinaryIO) -> Iterator[StatementLine]:
        raw = HashingReader(stream)
        text = io.TextIOWrapper(
            io.BufferedReader(raw, 1 << 16), encoding=self._mapping.encoding, newline=""
        )
        reader = csv.reader(text, delimiter=self._mapping.delimiter, strict=True)
        count = 0
        first: date | None = None
        last: date | None = None
        try:
            header = _header(reader)
            if header is None:
                raise StatementError("empty file: no header line")
            positions = self._positions(header)
            width = len(header)
            while True:
                try:
                    row = next(reader)
                except csv.Error as exc:
                    self.errors.append(LineError(reader.line_num, f"malformed CSV: {exc}"))
                    continue
                except StopIteration:
                    break
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != width:
                    self.errors.append(
                        LineError(reader.line_num, f"{len(row)} fields, the header has {width}")
                    )
                    continue
                row.append("")
                try:
                    line = self._line(row, positions, reader.line_num)
                except ValueError as exc:
                    self.errors.append(LineError(reader.line_num, str(exc)))
                    continue
                count += 1
                booked = line.booking_date
                if booked is not None:
                    first = booked if first is None or booked < first else first
                    last = booked if last is None or booked > last else last
                yield line
        except UnicodeDecodeError as exc:
            # The text layer decodes ahead in blocks; find the line again (error path only).
            where = self._undecodable_line(stream) or reader.line_num + 1
            raise StatementError(
                f"line {where}: not {self._mapping.encoding} text ({exc.reason})",
                [LineError(where, "undecodable bytes")],
            ) from exc
        currency = self._currency
        if currency is None:
            raise StatementError("no currency: the file has no currency column and no lines")
        content_hash = raw.digest.hexdigest()
        self._statement = Statement(
            source=self._source_name,
            format=StatementFormat.CSV,
            statement_id=self._mapping.statement_id or content_hash,
            account=self._mapping.account,
            currency=currency,
            period_start=first,
            period_end=last,
            created_at=None,
            content_hash=content_hash,
            line_count=count,
        )

    def _undecodable_line(self, stream: BinaryIO) -> int | None:
        if not stream.seekable():
            return None
        stream.seek(0)
        decoder = codecs.getincrementaldecoder(self._mapping.encoding)()
        for number, raw in enumerate(stream, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
        return None

    def _positions(self, header: list[str]) -> tuple[int, ...]:
        """Column index per field in ``_FIELDS`` order; absent ones point past the header."""
        names = [name.strip() for name in header]
        positions: dict[str, int] = {}
        missing = []
        for name in _FIELDS:
            column = getattr(self._mapping, name)
            if column is None:
                continue
            if column in names:
                positions[name] = names.index(column)
            elif name in _REQUIRED:
                missing.append(column)
        if missing:
            raise StatementError(
                f"line 1: required column(s) missing: {', '.join(missing)} "
                f"(header: {', '.join(names)})",
                [LineError(1, "header")],
            )
        if "currency" not in positions and self._currency is None:
            raise StatementError(
                "the file has no currency column: configure default_currency in the mapping"
            )
        return tuple(positions.get(name, len(names)) for name in _FIELDS)

    def _line(self, row: list[str], at: tuple[int, ...], line_number: int) -> StatementLine:
        # ``row`` ends with an extra "" that absent columns point at: no branch per cell.
        (
            i_booked, i_value, i_amount, i_currency, i_direction, i_status, i_reversal,
            i_bank, i_e2e, i_reference, i_remittance, i_batch, i_count, i_total,
        ) = at  # fmt: skip
        currency = row[i_currency].strip() or self._currency or ""
        if currency != self._currency:
            if self._currency is not None:
                raise ValueError(f"currency {shown(currency)}, the statement is {self._currency}")
            check_currency(currency, None, f"line {line_number}")
            self._currency = currency
        currency = self._currency  # one shared string for a million lines
        amount_text = row[i_amount].strip()
        if (
            self._plain_amounts
            and amount_text.isdigit()
            and amount_text.isascii()
            and len(amount_text) <= _FAST_DIGITS
        ):
            # Whole units, the usual case: no Decimal. One currency per statement, one scale.
            scale = self._scale or minor_units("1", currency)
            self._scale = scale
            amount = int(amount_text) * scale
        else:
            amount = self._amount(amount_text, currency, "amount")
        if amount <= 0:
            raise ValueError(f"amount must be positive, got {shown(row[i_amount])}")
        if amount > MAX_AMOUNT:
            raise ValueError(f"amount {amount} is more than {MAX_AMOUNT} minor units")
        direction_text = row[i_direction].strip().lower()
        direction = _DIRECTIONS.get(direction_text) if direction_text else Direction.CREDIT
        if direction is None:
            raise ValueError(f"direction {shown(row[i_direction])} is not credit or debit")
        status_text = row[i_status].strip().lower()
        status = _STATUSES.get(status_text) if status_text else BookingStatus.BOOKED
        if status is None:
            raise ValueError(f"status {shown(row[i_status])} is not booked or pending")
        reversal_text = row[i_reversal].strip().lower()
        if reversal_text not in _TRUE and reversal_text not in _FALSE:
            raise ValueError(f"reversal {shown(row[i_reversal])} is not true or false")
        end_to_end = row[i_e2e].strip() or None
        remittance = row[i_remittance].strip()
        value_text = row[i_value].strip()
        booked_text = row[i_booked].strip()
        booked = self._dates.get(booked_text) or self._date(booked_text, "booking_date")
        count, total = self._batch(row[i_count].strip(), row[i_total].strip(), currency)
        # tuple.__new__: the record without StatementLine's Python-level __new__ (a million
        # lines a day); every field, in order.
        line: StatementLine = _new_tuple(
            StatementLine,
            (
                line_number,
                amount,
                currency,
                direction,
                reversal_text in _TRUE,
                status,
                booked,
                self._date(value_text, "value_date") if value_text else None,
                row[i_bank].strip() or None,
                end_to_end,
                remittance,
                extract_reference(row[i_reference].strip() or None, end_to_end, remittance),
                row[i_batch].strip() or None,
                count,
                total,
                (),  # transactions: CSV lines have none
            ),
        )
        _check_bounds(line, row)
        return line

    def _batch(
        self, count_text: str, total_text: str, currency: str
    ) -> tuple[int | None, int | None]:
        count = int(count_text) if count_text.isdigit() else None
        if count is not None and count > MAX_BATCH_COUNT:
            raise ValueError(f"batch_count {count} is more than {MAX_BATCH_COUNT}")
        total = self._amount(total_text, currency, "batch_total") if total_text else None
        if total is not None and total > MAX_AMOUNT:
            raise ValueError(f"batch_total {total} is more than {MAX_AMOUNT} minor units")
        return count, total

    def _amount(self, text: str, currency: str, name: str) -> int:
        mapping = self._mapping
        if mapping.thousands_separator:
            text = text.replace(mapping.thousands_separator, "")
        if mapping.decimal_separator != ".":
            text = text.replace(mapping.decimal_separator, ".")
        try:
            return minor_units(text, currency)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc

    def _date(self, text: str, name: str) -> date | None:
        if not text:
            if name == "booking_date":
                raise ValueError("booking_date is empty")
            return None
        known = self._dates.get(text)  # a day's statement has a handful of distinct dates
        if known is not None:
            return known
        try:
            if self._mapping.date_format == "%Y-%m-%d":
                parsed = date.fromisoformat(text)
            else:
                parsed = datetime.strptime(text, self._mapping.date_format).date()  # noqa: DTZ007
        except ValueError as exc:
            raise ValueError(
                f"{name} {shown(text)} does not match {self._mapping.date_format}"
            ) from exc
        self._dates[text] = parsed
        return parsed


def _header(reader: Iterator[list[str]]) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as exc:  # an endless or unterminated field: no columns to read by
        raise StatementError(f"line 1: malformed CSV: {exc}", [LineError(1, "header")]) from exc


def _check_bounds(line: StatementLine, row: list[str]) -> None:
    """ValueError when a text of the line is past its limit or holds a NUL. Checked field by
    field only for a row long enough to have one (or with a NUL anywhere): most rows are
    short, and a million of them a day."""
    cells = _join(row)
    if len(cells) > _SHORT_ROW or "\x00" in cells:
        problem = line_problem(line)
        if problem is not None:
            raise ValueError(problem)
