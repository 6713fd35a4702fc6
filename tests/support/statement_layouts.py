"""The same statement written every way banks write it, for the parsers' layout tests.

camt: camt.053 (``BkToCstmrStmt/Stmt``) or camt.054 (``BkToCstmrDbtCdtNtfctn/Ntfctn``), in
message versions .02 to .08 (up to .02 a transaction's amount sits in ``AmtDtls/TxAmt``; from
.08 the status in ``Sts/Cd``), with or without a namespace prefix, pretty-printed (an element
a line, indented) or minified (the whole document on one line, as many bank exports are),
with LF or CRLF line ends and with or without a UTF-8 BOM. CSV: the default layout
(``writers.csv_statement``) with LF or CRLF and with or without a BOM. Settlement reports:
``write_settlement`` with the same variations.

``Layout.render`` turns the statement into bytes; every layout of one statement must parse to
the same lines. Hypothesis strategies draw statements (``statements``) and layouts.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

from payments.reconcile.formats.settlements import SettlementLine, write_settlement
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementLine,
    Transaction,
)
from payments.reconcile.formats.writers import csv_statement, major_units

DAY = date(2025, 3, 12)
VERSIONS = ("02", "04", "06", "08")
MESSAGES = ("camt.053", "camt.054")
_ROOT = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
_STATUS = {BookingStatus.BOOKED: "BOOK", BookingStatus.PENDING: "PDNG", BookingStatus.INFO: "INFO"}

# An element: (name, attributes, text or children).
Node = tuple[str, dict[str, str], "str | list[Node]"]


@dataclass(frozen=True)
class CamtLayout:
    message: str = "camt.053"
    version: str = "08"
    prefix: str = ""
    pretty: bool = True
    crlf: bool = False
    bom: bool = False

    def render(self, lines: Sequence[StatementLine], currency: str) -> bytes:
        namespace = f"urn:iso:std:iso:20022:tech:xsd:{self.message}.001.{self.version}"
        root, container = _ROOT[self.message]
        document: Node = (
            "Document",
            {f"xmlns:{self.prefix}" if self.prefix else "xmlns": namespace},
            [
                (
                    root,
                    {},
                    [
                        ("GrpHdr", {}, [("MsgId", {}, "KBNN-1"), _created()]),
                        (
                            container,
                            {},
                            [
                                ("Id", {}, "KBNN-1"),
                                _created(),
                                (
                                    "Acct",
                                    {},
                                    [
                                        ("Id", {}, [("Othr", {}, [("Id", {}, "7111")])]),
                                        ("Ccy", {}, currency),
                                    ],
                                ),
                                *(self._entry(line) for line in lines),
                            ],
                        ),
                    ],
                ),
            ],
        )
        newline = "\r\n" if self.crlf else "\n"
        text = '<?xml version="1.0" encoding="UTF-8"?>' + (newline if self.pretty else "")
        text += self._write(document, 0, newline) + (newline if self.pretty else "")
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode()

    def _write(self, node: Node, depth: int, newline: str) -> str:
        name, attributes, content = node
        tag = f"{self.prefix}:{name}" if self.prefix else name
        attrs = "".join(f" {key}={quoteattr(value)}" for key, value in attributes.items())
        if isinstance(content, str):
            return f"<{tag}{attrs}>{escape(content)}</{tag}>"
        if not self.pretty:
            inner = "".join(self._write(child, depth + 1, newline) for child in content)
            return f"<{tag}{attrs}>{inner}</{tag}>"
        indent = newline + "  " * (depth + 1)
        inner = "".join(indent + self._write(child, depth + 1, newline) for child in content)
        return f"<{tag}{attrs}>{inner}{newline}{'  ' * depth}</{tag}>"

    def _entry(self, line: StatementLine) -> Node:
        currency = line.currency
        children: list[Node] = [
            ("Amt", {"Ccy": currency}, major_units(line.amount, currency)),
            ("CdtDbtInd", {}, "CRDT" if line.direction is Direction.CREDIT else "DBIT"),
        ]
        if line.reversal:
            children.append(("RvslInd", {}, "true"))
        status = _STATUS[line.status]
        children.append(("Sts", {}, [("Cd", {}, status)] if self.version >= "08" else status))
        if line.booking_date is not None:
            children.append(("BookgDt", {}, [("Dt", {}, line.booking_date.isoformat())]))
        if line.value_date is not None:
            children.append(("ValDt", {}, [("Dt", {}, line.value_date.isoformat())]))
        if line.bank_reference is not None:
            children.append(("AcctSvcrRef", {}, line.bank_reference))
        details: list[Node] = []
        if line.batch_reference is not None or line.batch_count is not None:
            batch: list[Node] = []
            if line.batch_reference is not None:
                batch.append(("PmtInfId", {}, line.batch_reference))
            if line.batch_count is not None:
                batch.append(("NbOfTxs", {}, str(line.batch_count)))
            if line.batch_total is not None:
                batch.append(("TtlAmt", {"Ccy": currency}, major_units(line.batch_total, currency)))
            details.append(("Btch", {}, batch))
        transactions = line.transactions or (
            Transaction(None, line.end_to_end_id, None, line.remittance),
        )
        details.extend(self._transaction(tx, currency) for tx in transactions)
        children.append(("NtryDtls", {}, details))
        return ("Ntry", {}, children)

    def _transaction(self, tx: Transaction, currency: str) -> Node:
        children: list[Node] = []
        if tx.amount is not None:
            amount: Node = ("Amt", {"Ccy": currency}, major_units(tx.amount, currency))
            # Up to .02 the amount sits deeper (AmtDtls/TxAmt/Amt).
            children.append(
                ("AmtDtls", {}, [("TxAmt", {}, [amount])]) if self.version <= "02" else amount
            )
        if tx.end_to_end_id is not None:
            children.append(("Refs", {}, [("EndToEndId", {}, tx.end_to_end_id)]))
        if tx.remittance:
            # One Ustrd per word: the parser joins the parts of RmtInf with a space.
            parts: list[Node] = [("Ustrd", {}, word) for word in tx.remittance.split(" ")]
            children.append(("RmtInf", {}, parts))
        return ("TxDtls", {}, children)


@dataclass(frozen=True)
class CsvLayout:
    crlf: bool = False
    bom: bool = False

    def render(self, lines: Sequence[StatementLine]) -> bytes:
        text = "".join(csv_statement(lines))
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode()

    def render_settlement(self, provider: str, lines: Sequence[SettlementLine]) -> bytes:
        out = io.StringIO()
        write_settlement(provider, lines, out)
        text = out.getvalue().replace("\n", "\r\n") if self.crlf else out.getvalue()
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode()


def _created() -> Node:
    return ("CreDtTm", {}, f"{DAY.isoformat()}T23:00:00+07:00")


# --- strategies -----------------------------------------------------------------------------

# Words of letters (Vietnamese ones too), digits and the characters XML must escape: no
# spaces at their ends and one between them, as the parsers keep text (trimmed, parts
# joined by a space).
words = st.text(
    st.one_of(st.characters(codec="utf-8", categories=("L", "N")), st.sampled_from("&<>\"'-/.:#")),
    min_size=1,
    max_size=12,
)
texts = st.lists(words, min_size=1, max_size=4).map(" ".join)
references = st.one_of(st.none(), words)
amounts = st.integers(1, 10**12)
days = st.dates(date(2025, 3, 1), date(2025, 3, 31))
camt_layouts = st.builds(
    CamtLayout,
    message=st.sampled_from(MESSAGES),
    version=st.sampled_from(VERSIONS),
    prefix=st.sampled_from(["", "camt"]),
    pretty=st.booleans(),
    crlf=st.booleans(),
    bom=st.booleans(),
)
csv_layouts = st.builds(CsvLayout, crlf=st.booleans(), bom=st.booleans())


@st.composite
def statement_lines(draw: st.DrawFn, currency: str, *, batches: bool = True) -> StatementLine:
    """A line every format can carry (``batches``: camt batch entries too)."""
    transactions: tuple[Transaction, ...] = ()
    batch = draw(st.booleans()) if batches else False
    if batch:
        parts = draw(st.lists(amounts, min_size=2, max_size=3))
        transactions = tuple(
            Transaction(amount, draw(references), None, draw(texts)) for amount in parts
        )
    amount = sum(tx.amount or 0 for tx in transactions) or draw(amounts)
    return StatementLine(
        line_number=0,  # the parsers number lines; this is no part of what is compared
        amount=amount,
        currency=currency,
        direction=draw(st.sampled_from(Direction)),
        reversal=draw(st.booleans()),
        status=draw(st.sampled_from([BookingStatus.BOOKED, BookingStatus.PENDING])),
        booking_date=draw(days),
        value_date=draw(st.one_of(st.none(), days)),
        bank_reference=draw(references),
        end_to_end_id=None if batch else draw(references),
        remittance="" if batch else draw(texts),
        payment_reference=None,
        batch_reference=draw(references) if batch else None,
        batch_count=len(transactions) if batch else None,
        batch_total=amount if batch else None,
        transactions=transactions,
    )


def statements(currency: str, *, batches: bool = True) -> st.SearchStrategy[list[StatementLine]]:
    return st.lists(statement_lines(currency, batches=batches), max_size=6)
