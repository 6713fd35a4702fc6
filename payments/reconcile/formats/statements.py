"""Treasury statements as the reconciliation sees them, whatever format they came in.

A statement is a header (who sent it, for which account and period, a hash of the exact bytes)
and lines. Lines are ``NamedTuple`` records rather than frozen dataclasses on purpose: a day at
national scale is a million lines, and a frozen dataclass costs about four times as much to
build (``object.__setattr__`` per field). They are just as immutable, compare by value and turn
into a dict with ``_asdict()`` for persistence. Amounts are int minor units; dates are
``datetime.date`` (a booking date is a calendar day, not an instant).

Errors: a file-level problem raises ``StatementError``. A malformed line does not stop the
parser: it is recorded as a ``LineError`` (with its line number; ``LineErrors`` keeps the first
hundred and counts the rest) next to the good lines, and the importer decides;
``StatementError.from_line_errors`` turns them into one error when the policy is "nothing
half-imported".
"""

from __future__ import annotations

import gc
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import BinaryIO, NamedTuple, Protocol

from payments.domain.errors import FieldProblem, InvalidInput
from payments.domain.money import exponent, is_known_currency, parse_decimal_amount


class Direction(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


class BookingStatus(StrEnum):
    BOOKED = "booked"  # camt BOOK: final
    PENDING = "pending"  # camt PDNG: may still change or disappear
    INFO = "info"  # camt INFO: for information only, never money


class StatementFormat(StrEnum):
    CAMT053 = "camt.053"
    CAMT054 = "camt.054"
    CSV = "csv"


@dataclass(frozen=True)
class Statement:
    """The header: known once the whole file has been read (the hash covers every byte)."""

    source: str  # who sent it: "treasury", "vnpay"...; chosen by the importer
    format: StatementFormat
    statement_id: str  # camt Stmt/Id (or Ntfctn/Id); CSV: from the mapping or the content hash
    account: str  # IBAN or other account id; "" when the file does not say
    currency: str
    period_start: date | None
    period_end: date | None
    created_at: datetime | None  # aware UTC when the file says when it was made
    content_hash: str  # sha256 hex of the raw bytes: the same file imported twice is detected
    line_count: int


class Transaction(NamedTuple):
    """One transaction inside a (batch) entry: camt ``TxDtls``."""

    amount: int | None
    end_to_end_id: str | None
    payment_reference: str | None
    remittance: str


class StatementLine(NamedTuple):
    line_number: int  # CSV: physical line of the record; camt: line where the entry ends
    amount: int  # minor units, always positive; direction says which way
    currency: str
    direction: Direction
    reversal: bool
    status: BookingStatus
    booking_date: date | None
    value_date: date | None
    bank_reference: str | None  # AcctSvcrRef: the bank's own id of the booking
    end_to_end_id: str | None
    remittance: str
    payment_reference: str | None  # the gateway reference found in the line (see below)
    batch_reference: str | None = None
    batch_count: int | None = None
    batch_total: int | None = None
    transactions: tuple[Transaction, ...] = ()


@dataclass(frozen=True)
class LineError:
    line_number: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message}"


SHOWN_LINE_ERRORS = 100  # line errors a reader keeps (and a 422 lists); the rest are counted


class LineErrors:
    """A reader's line errors: the first ``SHOWN_LINE_ERRORS`` kept, every one counted.

    A file of a million bad lines is rejected whatever it holds, and nobody reads past the
    first hundred errors; keeping them all would cost gigabytes (a 512 MiB upload of ``x``
    rows is 250 million errors). Iterating, indexing and ``len`` see the kept ones; ``total``
    counts them all; false while there is none.
    """

    def __init__(self, keep: int = SHOWN_LINE_ERRORS) -> None:
        self.kept: list[LineError] = []
        self.total = 0
        self._keep = keep

    def append(self, error: LineError) -> None:
        self.total += 1
        if len(self.kept) < self._keep:
            self.kept.append(error)

    def __bool__(self) -> bool:
        return self.total > 0

    def __len__(self) -> int:
        return len(self.kept)

    def __iter__(self) -> Iterator[LineError]:
        return iter(self.kept)

    def __getitem__(self, index: int) -> LineError:
        return self.kept[index]


class StatementError(InvalidInput):
    """The file cannot be imported: wrong format, unsafe XML, wrong currency, bad lines.

    ``line_errors`` are the first bad lines (at most ``SHOWN_LINE_ERRORS``), ``line_error_count``
    counts them all."""

    title = "Statement rejected"

    def __init__(
        self, message: str, line_errors: Iterable[LineError] = (), total: int | None = None
    ) -> None:
        self.line_errors = list(line_errors)
        self.line_error_count = len(self.line_errors) if total is None else total
        problems = [FieldProblem(f"line {e.line_number}", e.message) for e in self.line_errors]
        super().__init__(problems, detail=message)

    @classmethod
    def from_line_errors(
        cls, errors: LineErrors | Sequence[LineError], shown: int = 20
    ) -> StatementError:
        kept = list(errors)
        total = errors.total if isinstance(errors, LineErrors) else len(kept)
        listed = "; ".join(str(e) for e in kept[:shown])
        more = f" (and {total - shown} more)" if total > shown else ""
        return cls(f"{total} malformed line(s): {listed}{more}", kept, total)


class StatementReader(Protocol):
    """What every parser returns: iterate once for the lines, then read the header.

    ``errors`` fills up while iterating; ``statement`` is available once iteration ended.
    """

    errors: LineErrors

    def __iter__(self) -> Iterator[StatementLine]: ...

    @property
    def statement(self) -> Statement: ...


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector around loops that build a million records.

    The records are acyclic tuples, freed by reference counting; meanwhile the collector would
    rescan the growing heap again and again (about a third of the matching time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_all(reader: StatementReader) -> tuple[Statement, list[StatementLine]]:
    """All lines, or StatementError listing every malformed line: nothing half-imported."""
    with paused_gc():
        lines = list(reader)
    if reader.errors:
        raise StatementError.from_line_errors(reader.errors)
    return reader.statement, lines


class HashingReader(io.RawIOBase):
    """Hashes the raw bytes as a text layer pulls them: one pass over the file."""

    def __init__(self, raw: BinaryIO, limit: int | None = None) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self._left = limit
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        size = len(data)
        if self._left is not None:
            self._left -= size
            if self._left < 0:
                raise StatementError(f"the file is larger than {self._limit} bytes")
        buffer[:size] = data
        self.digest.update(data)
        return size


# --- the gateway reference inside a line --------------------------------------------------------

# Payment ids are "pay_" + a ULID (payments.domain.ids); attempts "att_" + ULID (what VNPay and
# MoMo know us by); VietQR transfers "PF" + 10 unambiguous letters (payments.domain.credits).
# Banks upper-case, drop the underscore or add spaces, so the search runs on folded text.
_ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
_IN_TEXT = re.compile(rf"\b(PAY|ATT)[_\- ]?({_ULID})\b|\b(PF[A-HJ-NP-Z2-9]{{10}})\b")
_EXACT_PAYMENT_ID = re.compile(rf"pay_{_ULID}")


def extract_reference(*texts: str | None) -> str | None:
    """The first gateway reference in the texts, normalised (``pay_…``, ``att_…``, ``PF…``).

    The end-to-end id is passed first: when it is exactly a payment id (the usual case for
    remittances the gateway sends itself) no searching happens.
    """
    for text in texts:
        if not text:
            continue
        if len(text) == 30 and _EXACT_PAYMENT_ID.fullmatch(text):
            return text
        found = _IN_TEXT.search(text.upper())
        if found is None:
            continue
        if found.group(3):
            return found.group(3)
        return f"{found.group(1).lower()}_{found.group(2)}"
    return None


# --- amounts and currencies ---------------------------------------------------------------------


def check_currency(currency: str, expected: str | None, where: str) -> None:
    if not is_known_currency(currency):
        raise StatementError(f"{where}: unknown currency {currency!r}")
    if expected is not None and currency != expected:
        raise StatementError(f"{where}: currency {currency} but the statement must be {expected}")


_SCALES: dict[str, int] = {}


def minor_units(text: str, currency: str) -> int:
    """Decimal text -> minor units with the currency's exponent; ValueError when malformed.

    Whole numbers (every VND amount) skip Decimal: a million lines make the difference.
    """
    if text.isascii() and text.isdigit():
        scale = _SCALES.get(currency)
        if scale is None:
            scale = _SCALES[currency] = 10 ** exponent(currency)
        return int(text) * scale
    return parse_decimal_amount(text, currency)
