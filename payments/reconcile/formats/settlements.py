"""Provider settlement reports: what VNPay, MoMo and the VietQR collection bank say they captured
and settled, one CSV per provider per day. With them the chain provider -> gateway -> treasury
is checked three ways (``matching``).

Providers do not publish their reconciliation files, so each layout below follows the names the
provider uses in its API (``protocols/``); the sandbox simulators write the same files with
``write_settlement``. Layouts (header line, UTF-8, comma-delimited):

- vnpay:  ``vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate`` where amounts
  are VND x 100 as everywhere in VNPay 2.1.0, dates ``YYYYMMDD``;
- momo:   ``orderId,transId,amount,fee,settlementDate``, VND, dates ``YYYY-MM-DD``;
- vietqr: ``reference,bankTransactionId,amount,fee,settlementDate``, VND, dates ``DD/MM/YYYY``.

Each layout may carry one more, optional column: the settlement batch the provider remitted the
transaction to the treasury in (VNPay ``vnp_BatchNo``, MoMo ``batchId``, VietQR ``batch_ref``;
these names are our choice, as no provider publishes one). An empty cell, or no such column,
means no batch. The reconciliation gives each payment its batch from here, so that a treasury
line carrying only a batch reference, count and total matches the payments of that batch.
``write_settlement`` always writes the column.

VNPay's and MoMo's layouts may also list the refunds the provider paid out, with one more
optional column saying what each line is (names from the providers' APIs, values our choice
where no provider publishes one):

- vnpay: ``vnp_TransactionType``, VNPay's own codes: ``01`` (or empty) a payment, ``02`` a
  full refund, ``03`` a partial refund;
- momo: ``type``: ``payment`` (or empty) or ``refund``.

A refund line's reference is the refund's request id at the provider (our refund id,
``rfd_…``), its transaction id the provider's refund number, its amount positive (what was
paid back), its date the day the provider paid it. A report whose header has the column lists
its refunds (``SettlementReport.lists_refunds``): a refund the gateway paid and the report
omits is missing at the provider (``refund_matching``). A report without it (an older file,
and every VietQR report) is all payments and says nothing about refunds. Any other value is
a line error. ``write_settlement`` writes the column unless told the report lists no refunds.

The first column is the reference the provider knows the payment by: our attempt's
``provider_ref`` (VNPay TxnRef / MoMo orderId are attempt ids, VietQR the ``PF…`` reference).
Amounts are gross (what the payer paid); ``fee`` is what the provider keeps.

Bounds: the reference, the transaction id and the batch are at most
``statements.SETTLEMENT_TEXT_LIMITS`` characters (no NUL), an amount or a fee at most
``statements.MAX_AMOUNT`` minor units; a line past one is a line error naming the column.
A line is numbered by the physical line it ends on: never two lines with one number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, NamedTuple, TextIO

from payments.reconcile.formats.statements import (
    MAX_AMOUNT,
    SETTLEMENT_TEXT_LIMITS,
    HashingReader,
    LineError,
    LineErrors,
    StatementError,
    paused_gc,
    shown,
    text_over_limit,
)

# A report is parsed whole into memory before it is stored (about 6 bytes of memory per byte
# of file), unlike a treasury statement, which streams: so it has a cap of its own, far below
# PAYMENTS_STATEMENT_MAX_BYTES. 64 MiB is about 900,000 lines, a national day of one provider.
SETTLEMENT_MAX_BYTES = 64 << 20
_MAX_DIGITS = 20  # an amount (x 100 for VNPay) of more digits is past MAX_AMOUNT anyway


class LineKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"  # VNPay: a partial refund (03)
    FULL_REFUND = "full_refund"  # VNPay: a refund of the whole payment (02)


REFUND_KINDS = frozenset({LineKind.REFUND, LineKind.FULL_REFUND})


class SettlementLine(NamedTuple):
    provider: str
    line_number: int
    provider_txn_id: str  # a refund line: the provider's refund number
    # Our provider_ref (attempt id / VietQR reference) or payment id; a refund line: the
    # refund's request id at the provider (our refund id).
    payment_reference: str
    amount: int  # minor units of currency
    fee: int
    currency: str
    settlement_date: date
    batch_reference: str | None = None  # the provider's remittance batch, when it says
    kind: LineKind = LineKind.PAYMENT

    @property
    def is_refund(self) -> bool:
        return self.kind in REFUND_KINDS


@dataclass(frozen=True)
class SettlementLayout:
    reference: str
    txn_id: str
    amount: str
    fee: str
    settlement_date: str
    date_format: str
    batch: str  # optional column
    amount_scale: int = 1  # VNPay sends VND x 100
    currency: str = "VND"
    kind: str | None = None  # the optional column saying payment or refund; None: no refunds
    kinds: Mapping[str, LineKind] = field(default_factory=dict)  # its values (read)
    codes: Mapping[LineKind, str] = field(default_factory=dict)  # what each kind is written as

    @property
    def header(self) -> list[str]:
        return [self.reference, self.txn_id, self.amount, self.fee, self.settlement_date]

    def kind_of(self, cell: str) -> LineKind:
        found = self.kinds.get(cell)
        if found is None:
            known = ", ".join(repr(value) for value in self.kinds if value)
            raise ValueError(f"{self.kind} {shown(cell)} is not one of {known}")
        return found


_PAYMENT, _REFUND, _FULL = LineKind.PAYMENT, LineKind.REFUND, LineKind.FULL_REFUND


LAYOUTS: dict[str, SettlementLayout] = {
    "vnpay": SettlementLayout(
        "vnp_TxnRef", "vnp_TransactionNo", "vnp_Amount", "vnp_Fee", "vnp_SettlementDate",
        "%Y%m%d", "vnp_BatchNo", amount_scale=100,
        kind="vnp_TransactionType",
        kinds={"": _PAYMENT, "01": _PAYMENT, "02": _FULL, "03": _REFUND},
        codes={_PAYMENT: "01", _FULL: "02", _REFUND: "03"},
    ),
    "momo": SettlementLayout(
        "orderId", "transId", "amount", "fee", "settlementDate", "%Y-%m-%d", "batchId",
        kind="type",
        kinds={"": _PAYMENT, "payment": _PAYMENT, "refund": _REFUND},
        codes={_PAYMENT: "payment", _FULL: "refund", _REFUND: "refund"},  # MoMo: one kind
    ),
    "vietqr": SettlementLayout(
        "reference", "bankTransactionId", "amount", "fee", "settlementDate", "%d/%m/%Y",
        "batch_ref",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SettlementReport:
    provider: str
    lines: list[SettlementLine]
    errors: LineErrors
    content_hash: str
    lists_refunds: bool = False  # the header has the layout's kind column

    def require_clean(self) -> list[SettlementLine]:
        if self.errors:
            raise StatementError.from_line_errors(self.errors)
        return self.lines


def _layout(provider: str) -> SettlementLayout:
    try:
        return LAYOUTS[provider]
    except KeyError:
        raise StatementError(
            f"no settlement layout for provider {provider!r} (known: {', '.join(LAYOUTS)})"
        ) from None


def read_settlement(
    provider: str, source: BinaryIO | Path, *, max_bytes: int = SETTLEMENT_MAX_BYTES
) -> SettlementReport:
    """Parse one provider's report; bad rows are collected with their line numbers (the
    first ones kept, all counted). StatementError before parsing when the file is larger
    than ``max_bytes`` (a stream that cannot tell its size: as soon as it passes it)."""
    layout = _layout(provider)
    if isinstance(source, Path):
        _check_size(provider, source.stat().st_size, max_bytes)
        with source.open("rb") as stream:
            return _read(provider, layout, stream, max_bytes)
    if source.seekable():
        start = source.tell()
        size = source.seek(0, io.SEEK_END) - start
        source.seek(start)
        _check_size(provider, size, max_bytes)
    return _read(provider, layout, source, max_bytes)


def _check_size(provider: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise StatementError(
            f"the {provider} settlement report is {size} bytes; settlement reports are "
            f"limited to {max_bytes} bytes"
        )


def _read(
    provider: str, layout: SettlementLayout, stream: BinaryIO, max_bytes: int
) -> SettlementReport:
    raw = HashingReader(stream, limit=max_bytes)
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 16), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        with paused_gc():
            lines, errors, lists_refunds = _rows(provider, layout, reader)
    except UnicodeDecodeError as exc:
        line = reader.line_num + 1
        raise StatementError(
            f"around line {line}: not UTF-8 text", [LineError(line, "bytes")]
        ) from exc
    return SettlementReport(provider, lines, errors, raw.digest.hexdigest(), lists_refunds)


def _rows(
    provider: str, layout: SettlementLayout, reader: Iterator[list[str]]
) -> tuple[list[SettlementLine], LineErrors, bool]:
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:  # an endless or unterminated field
        raise StatementError(f"line 1: malformed CSV: {exc}", [LineError(1, "header")]) from exc
    missing = [name for name in layout.header if name not in header]
    if missing:
        raise StatementError(
            f"line 1: the {provider} settlement report lacks {', '.join(missing)}",
            [LineError(1, "header")],
        )
    at = [header.index(name) for name in layout.header]
    batch_at = header.index(layout.batch) if layout.batch in header else None
    kind_at = header.index(layout.kind) if layout.kind and layout.kind in header else None
    needed = max(i for i in (*at, batch_at, kind_at) if i is not None) + 1
    lines: list[SettlementLine] = []
    errors = LineErrors()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # this line only: the reader goes on with the next
            number = reader.line_num  # type: ignore[attr-defined]
            errors.append(LineError(number, f"malformed CSV: {exc}"))
            continue
        if not row:
            continue
        number = reader.line_num  # type: ignore[attr-defined]
        if len(row) < needed:
            errors.append(LineError(number, f"{len(row)} fields, the header has {len(header)}"))
            continue
        try:
            reference, txn, amount, fee, settled = (row[i].strip() for i in at)
            batch = row[batch_at].strip() if batch_at is not None else ""
            _check_texts(layout, reference, txn, batch)
            kind = layout.kind_of(row[kind_at].strip()) if kind_at is not None else _PAYMENT
            lines.append(
                SettlementLine(
                    provider=provider,
                    line_number=number,
                    provider_txn_id=txn,
                    payment_reference=_required(reference, layout.reference),
                    amount=_amount(amount, layout, layout.amount),
                    fee=_amount(fee or "0", layout, layout.fee),
                    currency=layout.currency,
                    settlement_date=_date(settled, layout),
                    batch_reference=batch or None,
                    kind=kind,
                )
            )
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    return lines, errors, kind_at is not None


def write_settlement(
    provider: str, lines: Iterable[SettlementLine], out: TextIO, *, lists_refunds: bool = True
) -> None:
    """Write a report in ``provider``'s layout (the simulators' side), with the kind column
    when the layout has one, unless ``lists_refunds`` is False: a report that says nothing
    about refunds (then ``lines`` must all be payments)."""
    layout = _layout(provider)
    kinds = layout.kind is not None and lists_refunds
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*layout.header, layout.batch, *([layout.kind] if kinds else [])])
    for line in lines:
        if line.is_refund and not kinds:
            raise ValueError(f"a {provider} report without refunds cannot list refund lines")
        row = [
            line.payment_reference,
            line.provider_txn_id,
            line.amount * layout.amount_scale,
            line.fee * layout.amount_scale,
            line.settlement_date.strftime(layout.date_format),
            line.batch_reference or "",
        ]
        writer.writerow([*row, layout.codes[line.kind]] if kinds else row)


def _check_texts(layout: SettlementLayout, reference: str, txn: str, batch: str) -> None:
    """ValueError naming the column whose text cannot be stored (too long, a NUL)."""
    for value, name, column in (
        (reference, "payment_reference", layout.reference),
        (txn, "provider_txn_id", layout.txn_id),
        (batch, "batch_reference", layout.batch),
    ):
        problem = text_over_limit(value, name, SETTLEMENT_TEXT_LIMITS, label=column)
        if problem is not None:
            raise ValueError(problem)


def _date(text: str, layout: SettlementLayout) -> date:
    try:
        return datetime.strptime(text, layout.date_format).date()  # noqa: DTZ007 - a calendar day
    except ValueError:
        raise ValueError(
            f"{layout.settlement_date} {shown(text)} does not match {layout.date_format}"
        ) from None


def _required(value: str, name: str) -> str:
    if not value:
        raise ValueError(f"{name} is empty")
    return value


def _amount(text: str, layout: SettlementLayout, name: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{name} {shown(text)} is not a whole number")
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"{name} {shown(text)} is more than {MAX_AMOUNT} minor units")
    value = int(text)
    if value % layout.amount_scale:
        raise ValueError(f"{name} {text!r} is not a multiple of {layout.amount_scale}")
    if value // layout.amount_scale > MAX_AMOUNT:
        raise ValueError(f"{name} {text!r} is more than {MAX_AMOUNT} minor units")
    return value // layout.amount_scale
