"""ISO 20022 camt.053 (statement) and camt.054 (debit/credit notification), streamed.

Any message version is read (camt.053.001.02 to .08 and the camt.054 equivalents): elements are
looked up in the document's own namespace, whatever it is, so only local names matter.

Streaming: the C ``XMLPullParser`` is fed 64 KiB chunks and asked for start events only (half
the events of start+end, which is most of the parsing cost): an entry is complete when the next
``Ntry`` starts or the document ends; it is then turned into a ``StatementLine`` and detached
from its parent, so memory stays flat for millions of entries. The statement's header elements
(id, account, currency, period) all precede the first entry in every version of the schema.
Times written without an offset are taken as Vietnam time (UTC+7).

Unsafe XML is refused before the C parser sees the body: a ``defusedxml`` parser (DTDs,
entity declarations and external references forbidden) reads the prolog up to the root
element. A document type declaration can only appear before the root element and entities can
only be declared inside one, so a prolog without it means the rest of the document cannot
declare or expand an entity (an undeclared ``&x;`` is then a plain well-formedness error).

Numbering: entries are numbered in the order they come, 1..N (``StatementLine.line_number``):
a file may be one physical line (many bank exports are), so a line of the file names no entry.
Errors name the entry and where it starts in the file, its line and column (both from 1, the
column in characters): each chunk fed to the parser ends just before a ``<``, so a start tag
is never split between two chunks and a scan of the raw bytes finds every ``<Ntry`` (with or
without a prefix) as the parser will meet it. The scan only places entries in the file; their
number is the parser's own count, so a ``<Ntry`` hidden in a comment could misplace an
error's position but never an entry's number. XML errors carry expat's line and column.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, cast
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from payments.reconcile.formats.statements import (
    HEADER_TEXT_LIMITS,
    BookingStatus,
    Direction,
    LineError,
    LineErrors,
    Statement,
    StatementError,
    StatementFormat,
    StatementLine,
    Transaction,
    check_currency,
    extract_reference,
    line_problem,
    minor_units,
    shown,
    text_over_limit,
)

CHUNK = 1 << 16
# Bytes held back at most while looking for a ``<`` to end a chunk before (a text node this
# long without markup is fed as it is: no tag can be split inside it).
HELD = 64 * CHUNK
# Banks that write local times without an offset are Vietnamese banks here.
VIETNAM = timezone(timedelta(hours=7))
_ROOTS = {
    "BkToCstmrStmt": (StatementFormat.CAMT053, "Stmt"),
    "BkToCstmrDbtCdtNtfctn": (StatementFormat.CAMT054, "Ntfctn"),
}
_LONGEST_INSTANT = 40  # 2025-03-12T23:59:59.999999+07:00 is 32 characters
_STATUS = {"BOOK": BookingStatus.BOOKED, "PDNG": BookingStatus.PENDING, "INFO": BookingStatus.INFO}
_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?Ntry[\s/>]")
# UTF-8's continuation bytes: deleting them leaves one byte per character.
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


class _RootSeen(Exception):
    """Raised by the gate once the root element starts: the prolog was safe."""


class _Gate:
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        raise _RootSeen

    def close(self) -> None:
        return None


def read_camt(
    source: BinaryIO | Path,
    *,
    source_name: str = "treasury",
    expected_currency: str | None = None,
) -> CamtReader:
    """Lines of a camt.053/054 file; iterate once, then read ``.statement`` and ``.errors``."""
    return CamtReader(source, source_name=source_name, expected_currency=expected_currency)


class CamtReader:
    def __init__(
        self,
        source: BinaryIO | Path,
        *,
        source_name: str = "treasury",
        expected_currency: str | None = None,
    ) -> None:
        self._source = source
        self._source_name = source_name
        self._expected = expected_currency
        self.errors = LineErrors()
        self._statement: Statement | None = None
        # Header fields, filled in as the elements end.
        self._ns = ""
        self._format: StatementFormat | None = None
        self._container = ""
        self._statement_id = ""
        self._account = ""
        self._currency: str | None = None
        self._period: tuple[date | None, date | None] = (None, None)
        self._created_at: datetime | None = None
        self._containers_seen = 0
        self._line_count = 0
        self._entry_tag = self._container_tag = "\0"  # matches nothing until the root is seen
        self._container_element: Element | None = None
        self._pending: Element | None = None
        self._pending_at: LineError | None = None  # where the pending entry is (no message)
        self._entries = 0  # entries met so far: the number of the pending one
        self._places = _EntryPlaces()
        self._document_seen = False
        self._dates: dict[str, date | None] = {}

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

    # --- streaming --------------------------------------------------------------------------

    def _parse(self, stream: BinaryIO) -> Iterator[StatementLine]:
        digest = hashlib.sha256()
        gate: DefusedXMLParser | None = DefusedXMLParser(target=_Gate(), forbid_dtd=True)
        # Start events only: half the events of start+end, and enough, because an entry is
        # complete when the next one starts (or when the document ends).
        parser: XMLPullParser[Element] = XMLPullParser(events=("start",))
        places = self._places
        held = b""
        while True:
            data = stream.read(CHUNK)
            if data:
                # End every chunk just before a "<", so that no tag is split between two.
                held += data
                cut = held.rfind(b"<")
                if cut > 0:
                    chunk, held = held[:cut], held[cut:]
                elif cut < 0 or len(held) > HELD:
                    chunk, held = held, b""
                else:
                    continue
            else:
                chunk, held = held, b""
                if not chunk:
                    break
            digest.update(chunk)
            if gate is not None:
                gate = self._check_prolog(gate, chunk)
            places.scan(chunk)
            self._feed(parser, chunk)
            yield from self._events(parser)
        if gate is not None:
            raise StatementError("not an XML document: no root element found")
        try:
            parser.close()
        except ParseError as exc:
            raise _xml_error(exc) from exc
        yield from self._events(parser)
        if self._pending is not None:
            yield from self._complete(self._pending)
        elif self._container_element is not None:
            self._headers(self._container_element)
        self._finish(digest.hexdigest())

    def _check_prolog(self, gate: DefusedXMLParser, chunk: bytes) -> DefusedXMLParser | None:
        try:
            gate.feed(chunk)
        except _RootSeen:
            return None
        except DefusedXmlException as exc:
            raise StatementError(
                "unsafe XML refused: document type declarations (DTD), entity declarations "
                f"and external references are not accepted ({type(exc).__name__})"
            ) from exc
        except ParseError as exc:
            raise _xml_error(exc) from exc
        except (LookupError, ValueError) as exc:
            raise _encoding_error(exc) from exc
        return gate

    @staticmethod
    def _feed(parser: XMLPullParser[Element], chunk: bytes) -> None:
        try:
            parser.feed(chunk)
        except ParseError as exc:
            raise _xml_error(exc) from exc
        except (LookupError, ValueError) as exc:
            raise _encoding_error(exc) from exc

    def _events(self, parser: XMLPullParser[Element]) -> Iterator[StatementLine]:
        # Only start events were asked for: each carries an element.
        events = cast("Iterator[tuple[str, Element]]", parser.read_events())
        try:
            yield from self._handle(events)
        except ParseError as exc:  # the pull parser hands its errors over as events
            raise _xml_error(exc) from exc

    def _handle(self, events: Iterator[tuple[str, Element]]) -> Iterator[StatementLine]:
        entry_tag = self._entry_tag
        container_tag = self._container_tag
        for _, element in events:
            tag = element.tag
            if tag == entry_tag:
                if self._pending is not None:
                    yield from self._complete(self._pending)
                elif self._container_element is not None:
                    self._headers(self._container_element)  # all precede the first entry
                self._pending = element
                self._entries += 1
                self._pending_at = self._places.next_entry(self._entries)
            elif tag == container_tag:
                if self._container_element is not None:
                    raise StatementError(
                        f"several {self._container} in one file: import them one by one"
                    )
                self._container_element = element
            elif self._format is None:
                if not self._document_seen:
                    self._document_seen = True
                    self._ns = _namespace(tag)
                else:  # the element under Document says which message this is
                    self._root_kind(tag[len(self._ns) :])
                    entry_tag = self._entry_tag = self._ns + "Ntry"
                    container_tag = self._container_tag = self._ns + self._container

    def _complete(self, entry: Element) -> Iterator[StatementLine]:
        number = self._entries
        try:
            line = self._entry(entry, number)
        except ValueError as exc:  # a malformed date, count...: this entry only
            self._error(f"entry: {exc}")
            line = None
        if line is not None and (problem := line_problem(line)) is not None:
            self._error(problem)
            line = None
        if self._container_element is not None:
            self._container_element.remove(entry)
        self._pending = None
        if line is not None:
            self._line_count += 1
            yield line

    def _error(self, message: str) -> None:
        """A line error of the pending entry, with its number and where it starts."""
        at = self._pending_at
        if at is None:  # pragma: no cover - only entries have errors, and each has a place
            raise RuntimeError("no entry is being read")
        self.errors.append(LineError(at.line_number, message, at.entry, at.column))

    def _headers(self, container: Element) -> None:
        for child in container:
            if child.tag == self._entry_tag:
                break
            try:
                self._header_element(child)
            except ValueError as exc:
                raise StatementError(f"statement header: {exc}") from exc

    def _root_kind(self, local: str) -> None:
        kind = _ROOTS.get(local)
        if kind is None:
            raise StatementError(
                f"not a camt.053 or camt.054 document: {shown(local)} under Document "
                "(expected BkToCstmrStmt or BkToCstmrDbtCdtNtfctn)"
            )
        self._format, self._container = kind

    def _header_element(self, element: Element) -> None:
        """Direct children of Stmt / Ntfctn other than entries: id, dates, account, balances."""
        ns = self._ns
        local = element.tag[len(ns) :]
        if local == "Id":
            self._statement_id = _header_text(element.text, "statement_id")
        elif local == "CreDtTm":
            self._created_at = _instant(element.text)
        elif local == "FrToDt":
            self._period = (
                _period_day(element.findtext(ns + "FrDtTm"), end=False),
                _period_day(element.findtext(ns + "ToDtTm"), end=True),
            )
        elif local == "Acct":
            identifier = element.find(ns + "Id")
            if identifier is not None:
                self._account = _header_text(
                    identifier.findtext(ns + "IBAN") or identifier.findtext(f"{ns}Othr/{ns}Id"),
                    "account",
                )
            currency = element.findtext(ns + "Ccy")
            if currency:
                self._set_currency(currency.strip(), "account")
        elif local == "Bal" and self._currency is None:
            amount = element.find(ns + "Amt")
            if amount is not None and amount.get("Ccy"):
                self._set_currency(amount.get("Ccy", ""), "balance")

    def _set_currency(self, currency: str, where: str) -> None:
        check_currency(currency, self._expected, f"statement {where}")
        self._currency = currency

    # --- one entry --------------------------------------------------------------------------

    def _entry(self, entry: Element, number: int) -> StatementLine | None:
        ns = self._ns
        amount_element = entry.find(ns + "Amt")
        if amount_element is None or not amount_element.text:
            self._error("entry without Amt")
            return None
        currency = amount_element.get("Ccy", "")
        if self._currency is None:
            self._set_currency(currency, "first entry")
        if currency != self._currency:
            self._error(f"currency {shown(currency)}, the statement is {self._currency}")
            return None
        currency = self._currency  # one shared string for a million lines
        try:
            amount = minor_units(amount_element.text, currency)
        except ValueError as exc:
            self._error(f"amount: {exc}")
            return None
        indicator = entry.findtext(ns + "CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            self._error(f"CdtDbtInd {shown(indicator or '')}")
            return None
        status_element = entry.find(ns + "Sts")
        # Up to .07 the status is text; from .08 it sits in Sts/Cd.
        status_text = "" if status_element is None else (status_element.text or "").strip()
        if not status_text and status_element is not None:
            status_text = (status_element.findtext(ns + "Cd") or "").strip()
        status = _STATUS.get(status_text)
        if status is None:
            self._error(f"unknown entry status {shown(status_text)}")
            return None
        transactions, batch = self._details(entry, currency)
        if transactions is None:
            return None
        single = transactions[0] if len(transactions) == 1 else None
        extra = (entry.findtext(ns + "AddtlNtryInf") or "").strip()
        remittance = single.remittance if single is not None else ""
        # A batch entry's references belong to its transactions, not to the entry.
        reference = None
        if single is not None:
            reference = single.payment_reference or extract_reference(extra)
        elif not transactions:
            reference = extract_reference(extra)
        batch_reference, batch_count, batch_total = batch
        if batch_count is None and len(transactions) > 1:
            batch_count = len(transactions)
        return StatementLine(
            line_number=number,
            amount=amount,
            currency=currency,
            direction=Direction.CREDIT if indicator == "CRDT" else Direction.DEBIT,
            reversal=(entry.findtext(ns + "RvslInd") or "").strip().lower() == "true",
            status=status,
            booking_date=self._date_of(entry, ns + "BookgDt"),
            value_date=self._date_of(entry, ns + "ValDt"),
            bank_reference=_text(entry.findtext(ns + "AcctSvcrRef")),
            end_to_end_id=single.end_to_end_id if single is not None else None,
            remittance=remittance or extra,
            payment_reference=reference,
            batch_reference=batch_reference,
            batch_count=batch_count,
            batch_total=batch_total,
            transactions=tuple(transactions) if len(transactions) > 1 else (),
        )

    def _details(
        self, entry: Element, currency: str
    ) -> tuple[list[Transaction] | None, tuple[str | None, int | None, int | None]]:
        ns = self._ns
        details = entry.find(ns + "NtryDtls")
        if details is None:
            return [], (None, None, None)
        batch_reference: str | None = None
        batch_count: int | None = None
        batch_total: int | None = None
        batch = details.find(ns + "Btch")
        try:
            if batch is not None:
                batch_reference = _text(batch.findtext(ns + "PmtInfId")) or _text(
                    batch.findtext(ns + "MsgId")
                )
                count = _text(batch.findtext(ns + "NbOfTxs"))
                batch_count = int(count) if count else None
                total = _text(batch.findtext(ns + "TtlAmt"))
                batch_total = minor_units(total, currency) if total else None
            transactions = [
                self._transaction(tx, currency) for tx in details.findall(ns + "TxDtls")
            ]
        except ValueError as exc:
            self._error(f"entry details: {exc}")
            return None, (None, None, None)
        return transactions, (batch_reference, batch_count, batch_total)

    def _transaction(self, tx: Element, currency: str) -> Transaction:
        ns = self._ns
        amount_text = tx.findtext(ns + "Amt")
        if amount_text is None:  # up to .02 the amount sits deeper (plain finds stay in C)
            amounts = tx.find(ns + "AmtDtls")
            instructed = amounts.find(ns + "TxAmt") if amounts is not None else None
            amount_text = instructed.findtext(ns + "Amt") if instructed is not None else None
        refs = tx.find(ns + "Refs")
        end_to_end = instruction = None
        if refs is not None:
            end_to_end = _text(refs.findtext(ns + "EndToEndId"))
            if end_to_end == "NOTPROVIDED":
                end_to_end = None
            instruction = _text(refs.findtext(ns + "InstrId"))
        parts: list[str] = []
        remittance = tx.find(ns + "RmtInf")
        if remittance is not None:
            parts.extend(t.strip() for t in remittance.itertext() if t.strip())
        additional = _text(tx.findtext(ns + "AddtlTxInf"))
        text = " ".join(parts)
        return Transaction(
            amount=minor_units(amount_text, currency) if amount_text else None,
            end_to_end_id=end_to_end,
            payment_reference=extract_reference(end_to_end, text, additional, instruction),
            remittance=text or additional or "",
        )

    def _date_of(self, entry: Element, tag: str) -> date | None:
        holder = entry.find(tag)
        if holder is None:
            return None
        text = holder.findtext(self._ns + "Dt") or holder.findtext(self._ns + "DtTm")
        if not text:
            return None
        found = self._dates.get(text)  # a day's statement has a handful of distinct dates
        if found is None:
            found = self._dates[text] = _date(text)
        return found

    def _finish(self, content_hash: str) -> None:
        if self._format is None:
            raise StatementError("not a camt document: no statement or notification found")
        currency = self._currency or self._expected
        if currency is None:
            raise StatementError("the statement names no currency (no account, balance or entry)")
        self._statement = Statement(
            source=self._source_name,
            format=self._format,
            statement_id=self._statement_id or content_hash,
            account=self._account,
            currency=currency,
            period_start=self._period[0],
            period_end=self._period[1],
            created_at=self._created_at,
            content_hash=content_hash,
            line_count=self._line_count,
        )


def _namespace(tag: str) -> str:
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _date(text: str | None) -> date | None:
    """ISO date or date-time -> the calendar day written in the file."""
    text = _text(text)
    return date.fromisoformat(text[:10]) if text else None


def _period_day(text: str | None, *, end: bool) -> date | None:
    """A period bound as a Vietnam day. A date-time is read in Vietnam time (a bank may write
    the period in UTC: 17:00Z the day before is our midnight), and an end at midnight exactly
    is exclusive: the period ended with the day before."""
    text = _text(text)
    if text is None or len(text) == 10:
        return _date(text)
    moment = _instant(text)
    if moment is None:
        return None
    try:
        local = moment.astimezone(VIETNAM)
        if end and local.time() == time(0):
            return local.date() - timedelta(days=1)
    except OverflowError:  # past 9999-12-31 in Vietnam time, or before 0001-01-01
        raise ValueError(f"period bound {shown(text)} is out of range") from None
    return local.date()


def _instant(text: str | None) -> datetime | None:
    text = _text(text)
    if text is None:
        return None
    if len(text) > _LONGEST_INSTANT:
        raise ValueError(f"not a date-time: {shown(text)}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+07:00 is a day before the first
        raise ValueError(f"date-time {shown(text)} is out of range") from None


def _header_text(value: str | None, field: str) -> str:
    text = (value or "").strip()
    problem = text_over_limit(text, field, HEADER_TEXT_LIMITS)
    if problem is not None:
        raise ValueError(problem)
    return text


def _encoding_error(exc: Exception) -> StatementError:
    """The XML declaration names an encoding expat cannot read through (unknown to Python, not
    a text encoding, or multi-byte other than UTF-8/16). ISO 20022 messages are UTF-8."""
    return StatementError(f"the XML declares an encoding that cannot be read: {exc}")


def _xml_error(exc: ParseError) -> StatementError:
    line, offset = exc.position
    column = offset + 1  # expat counts columns from 0; editors, and our entries, from 1
    reason = str(exc).split(": line ", 1)[0]  # expat repeats its own (0-based) position
    return StatementError(
        f"malformed XML at line {line}, column {column}: {reason}",
        [LineError(line, f"malformed XML: {reason}", column=column)],
    )


class _EntryPlaces:
    """Where each entry starts in the file, found by scanning the raw chunks for ``<Ntry``
    as they are fed to the parser (which meets the same entries, in the same order, later).

    Lines are counted by LF (so CRLF files count right); columns in characters as expat
    counts them (UTF-8: every byte but the continuation bytes; a leading BOM is one).
    Counting runs from one entry to the next, never back to the line's start: a one-line
    file of a million entries is read once."""

    def __init__(self) -> None:
        self._found: deque[tuple[int, int]] = deque()
        self._line = 1
        self._column = 0  # characters on the current line before the next chunk

    def scan(self, chunk: bytes) -> None:
        line, column, done = self._line, self._column, 0
        for found in _ENTRY_START.finditer(chunk):
            start = found.start()
            line, column = self._advance(chunk, done, start, line, column)
            self._found.append((line, column + 1))
            done = start
        self._line, self._column = self._advance(chunk, done, len(chunk), line, column)

    @staticmethod
    def _advance(chunk: bytes, start: int, end: int, line: int, column: int) -> tuple[int, int]:
        newlines = chunk.count(b"\n", start, end)
        if newlines:
            line += newlines
            start = chunk.rfind(b"\n", start, end) + 1
            column = 0
        return line, column + _characters(chunk[start:end])

    def next_entry(self, number: int) -> LineError:
        """The place of entry ``number`` (the next one the parser met), as a LineError
        without its message yet."""
        line, column = self._found.popleft() if self._found else (self._line, 0)
        return LineError(line, "", number, column or None)


def _characters(segment: bytes) -> int:
    if segment.isascii():
        return len(segment)
    return len(segment.translate(None, _CONTINUATION_BYTES))
