"""Treasury statements as the reconciliation sees them, whatever format they came in.

A statement is a header (who sent it, for which account and period, a hash of the exact bytes)
and lines. Lines are ``NamedTuple`` records rather than frozen dataclasses on purpose: a day at
national scale is a million lines, and a frozen dataclass costs about four times as much to
build (``object.__setattr__`` per field). They are just as immutable, compare by value and turn
into a dict with ``_asdict()`` for persistence. Amounts are int minor units; dates are
``datetime.date`` (a booking date is a calendar day, not an instant).

Numbering: a line's ``line_number`` is what it is stored under, unique in its statement. A CSV
record is numbered by its physical line in the file; a camt entry by its place among the
file's entries (1..N), since a camt file may hold every entry on one physical line (many bank
exports have no line breaks at all).

Errors: a file-level problem raises ``StatementError``. A malformed line does not stop the
parser: it is recorded as a ``LineError`` (where it is: a CSV line, a camt entry with the line
and column it starts at; ``LineErrors`` keeps the first hundred and counts the rest) next to
the good lines, and the importer decides; ``StatementError.from_line_errors`` turns them into
one error when the policy is "nothing half-imported".

Limits: every text a line stores, and every amount and count, has a bound (``TEXT_LIMITS``,
``SETTLEMENT_TEXT_LIMITS``, ``HEADER_TEXT_LIMITS``, ``MAX_AMOUNT``, ``MAX_BATCH_COUNT``, all
below): a line past one is a line error naming the field, so nothing unbounded reaches
storage (whose columns are at least as wide: ``tests/unit/reconcile/test_field_limits.py``).
"""

from __future__ import annotations

import gc
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
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
    line_number: int  # CSV: physical line of the record; camt: the entry's number (1..N)
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


# --- limits of what a line may carry ---------------------------------------------------------
#
# The most characters each stored text of a statement line may have (after trimming): ISO
# 20022 allows 35 (references) or 140 (a remittance part) characters, banks' CSV exports
# about as much; these leave room. A line past a limit is refused, with its number and the
# field's name. ``payment_reference`` is never copied from the file: it is the gateway
# reference found in it (``extract_reference``, 30 characters at most), bounded all the same.
# A camt batch entry's transactions (``Transaction``) carry the same limits for the same
# fields. The currency is an ISO 4217 code (``check_currency``).
TEXT_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "bank_reference": 140,
        "end_to_end_id": 140,
        "payment_reference": 40,
        "remittance": 2_000,
        "batch_reference": 140,
    }
)
# A provider's settlement report line (``settlements.SettlementLine``).
SETTLEMENT_TEXT_LIMITS: Mapping[str, int] = MappingProxyType(
    {"provider_txn_id": 100, "payment_reference": 100, "batch_reference": 140}
)
# The statement's header: the file's own id (camt Stmt/Id, Max35Text) and account (an IBAN is
# 34 characters at most). A header past a limit rejects the file.
HEADER_TEXT_LIMITS: Mapping[str, int] = MappingProxyType({"statement_id": 140, "account": 64})
# Amounts (an amount, a batch total, a fee) in minor units: no more than the ledger's largest
# leg (``payments.ledger.entries.MAX_LEG_AMOUNT``), so whatever a statement says can be booked.
MAX_AMOUNT = 10**15
MAX_BATCH_COUNT = 1_000_000_000  # payments in one batch line
# A statement's totals (credits, debits; a report's gross and fees) are stored as 64-bit
# integers: a file whose lines add up to more is refused whole.
MAX_TOTAL = 2**63 - 1


def text_over_limit(
    value: str | None, field: str, limits: Mapping[str, int], *, label: str | None = None
) -> str | None:
    """Why ``value`` cannot be stored as ``field`` (too long, or a NUL character, which
    PostgreSQL cannot store in text), or None. ``label``: the name the message gives the
    field (a report's column), by default ``field``."""
    if value is None:
        return None
    limit = limits[field]
    name = label or field
    if len(value) > limit:
        return f"{name} is {len(value)} characters long, at most {limit} are accepted"
    if "\x00" in value:
        return f"{name} contains a NUL character"
    return None


def amount_over_limit(value: int | None, field: str) -> str | None:
    if value is not None and value > MAX_AMOUNT:
        return f"{field} {value} is more than {MAX_AMOUNT} minor units"
    return None


_LINE_TEXTS = tuple(TEXT_LIMITS)
_TRANSACTION_TEXTS = ("end_to_end_id", "payment_reference", "remittance")


def line_problem(line: StatementLine) -> str | None:
    """Why ``line`` cannot be stored (the first field past its limit), or None."""
    for field in _LINE_TEXTS:
        problem = text_over_limit(getattr(line, field), field, TEXT_LIMITS)
        if problem is not None:
            return problem
    problem = amount_over_limit(line.amount, "amount") or amount_over_limit(
        line.batch_total, "batch_total"
    )
    if problem is not None:
        return problem
    if line.batch_count is not None and line.batch_count > MAX_BATCH_COUNT:
        return f"batch_count {line.batch_count} is more than {MAX_BATCH_COUNT}"
    for number, tx in enumerate(line.transactions, start=1):
        for field in _TRANSACTION_TEXTS:
            problem = text_over_limit(getattr(tx, field), field, TEXT_LIMITS)
            if problem is not None:
                return f"transaction {number}: {problem}"
        problem = amount_over_limit(tx.amount, "amount")
        if problem is not None:
            return f"transaction {number}: {problem}"
    return None


def check_total(total: int, what: str) -> None:
    """StatementError when a statement's ``what`` (its credits, its fees...) cannot be stored."""
    if total > MAX_TOTAL:
        raise StatementError(f"the statement's {what} add up to {total}, more than {MAX_TOTAL}")


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineError:
    """A malformed line, and where it is.

    ``line_number`` is the line of the file (from 1): a CSV record's, the line a camt entry
    starts on, or where the XML broke. ``column`` (from 1, in characters) is where on that
    line, when known: a camt entry's ``<Ntry`` start tag, a malformed XML token. ``entry`` is
    a camt entry's number (1..N, what its stored line number is)."""

    line_number: int
    message: str
    entry: int | None = None
    column: int | None = None

    @property
    def place(self) -> str:
        """What the line is called: ``line 5``, ``entry 3``."""
        return f"entry {self.entry}" if self.entry is not None else f"line {self.line_number}"

    @property
    def where(self) -> str:
        """``line 5``, ``line 10, column 3``, ``entry 3 (line 1, column 2841)``."""
        at = f"line {self.line_number}"
        if self.column is not None:
            at += f", column {self.column}"
        return at if self.entry is None else f"entry {self.entry} ({at})"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


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
        problems = [FieldProblem(e.place, e.message) for e in self.line_errors]
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
# An amount as statements write it: decimal digits, a point and decimals (ISO 20022 allows 18
# digits, 5 of them decimals), a sign at most. Not what Decimal takes besides (an exponent,
# digit grouping, other scripts' digits): ``1E+999999`` is no amount, and would be a number
# of a million digits.
_DECIMAL_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Characters: room for 10**15 with 5 decimals and zeros to spare, and few enough digits for
# Decimal's 28-digit arithmetic to stay exact (more would be rounded, not refused).
_LONGEST_AMOUNT = 28
_FAST_DIGITS = 18  # a whole number this long is far below any limit and needs no Decimal


def minor_units(text: str, currency: str) -> int:
    """Decimal text -> minor units with the currency's exponent; ValueError when malformed,
    negative (the direction says which way money went) or more than ``MAX_AMOUNT``.

    Whole numbers (every VND amount) skip Decimal: a million lines make the difference.
    """
    if text.isascii() and text.isdigit() and len(text) <= _FAST_DIGITS:
        scale = _SCALES.get(currency)
        if scale is None:
            scale = _SCALES[currency] = 10 ** exponent(currency)
        value = int(text) * scale
    else:
        stripped = text.strip()
        if len(stripped) > _LONGEST_AMOUNT:
            raise ValueError(f"{shown(text)} is too long for an amount")
        if not _DECIMAL_TEXT.fullmatch(stripped):
            raise ValueError(f"not a decimal amount: {shown(text)}")
        value = parse_decimal_amount(stripped, currency)
        if value < 0:
            raise ValueError(f"{shown(text)} is negative (the direction says credit or debit)")
    if value > MAX_AMOUNT:
        raise ValueError(f"{shown(text)} is more than {MAX_AMOUNT} minor units")
    return value


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut short: an error must not carry megabytes of the
    file back (a 422 lists a hundred of them)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
