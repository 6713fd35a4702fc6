"""Writing statements: the default CSV layout and ISO 20022 camt.053.001.08, both readable by
this package's parsers. The sandbox treasury serves its statements with these; tests and
benchmarks build files with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from xml.sax.saxutils import escape

from payments.domain.money import exponent
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementLine,
    Transaction,
)

CSV_HEADER = (
    "booking_date,value_date,amount,currency,direction,status,reversal,bank_reference,"
    "end_to_end_id,payment_reference,remittance,batch_reference,batch_count,batch_total\n"
)


def major_units(amount: int, currency: str) -> str:
    """Minor units as the decimal text statements carry (``1250000``, ``12.50``): no float."""
    places = exponent(currency)
    if places == 0:
        return str(amount)
    whole, fraction = divmod(amount, 10**places)
    return f"{whole}.{fraction:0{places}d}"


def _cell(text: str | None) -> str:
    value = text or ""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_statement(lines: Iterable[StatementLine]) -> Iterator[str]:
    """The default layout, a header then one row per line (streamed)."""
    yield CSV_HEADER
    for line in lines:
        yield (
            ",".join(
                (
                    line.booking_date.isoformat() if line.booking_date else "",
                    line.value_date.isoformat() if line.value_date else "",
                    major_units(line.amount, line.currency),
                    line.currency,
                    line.direction.value,
                    line.status.value,
                    "true" if line.reversal else "false",
                    _cell(line.bank_reference),
                    _cell(line.end_to_end_id),
                    _cell(line.payment_reference),
                    _cell(line.remittance),
                    _cell(line.batch_reference),
                    "" if line.batch_count is None else str(line.batch_count),
                    ""
                    if line.batch_total is None
                    else major_units(line.batch_total, line.currency),
                )
            )
            + "\n"
        )


_STATUS = {
    BookingStatus.BOOKED: "BOOK",
    BookingStatus.PENDING: "PDNG",
    BookingStatus.INFO: "INFO",
}


def camt053(
    lines: Iterable[StatementLine],
    *,
    statement_id: str,
    account: str,
    currency: str,
    day: date,
) -> Iterator[str]:
    """A camt.053.001.08 statement of one account for ``day`` (streamed)."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n'
        f"<BkToCstmrStmt><GrpHdr><MsgId>{escape(statement_id)}</MsgId>"
        f"<CreDtTm>{day.isoformat()}T23:00:00+07:00</CreDtTm></GrpHdr>\n"
        f"<Stmt><Id>{escape(statement_id)}</Id>"
        f"<FrToDt><FrDtTm>{day.isoformat()}T00:00:00+07:00</FrDtTm>"
        f"<ToDtTm>{day.isoformat()}T23:59:59+07:00</ToDtTm></FrToDt>"
        f"<Acct><Id><Othr><Id>{escape(account)}</Id></Othr></Id><Ccy>{currency}</Ccy></Acct>\n"
    )
    for line in lines:
        yield _entry(line)
    yield "</Stmt></BkToCstmrStmt></Document>\n"


def _entry(line: StatementLine) -> str:
    indicator = "CRDT" if line.direction is Direction.CREDIT else "DBIT"
    parts = [
        f'<Ntry><Amt Ccy="{line.currency}">{major_units(line.amount, line.currency)}</Amt>'
        f"<CdtDbtInd>{indicator}</CdtDbtInd>"
    ]
    if line.reversal:
        parts.append("<RvslInd>true</RvslInd>")
    parts.append(f"<Sts><Cd>{_STATUS[line.status]}</Cd></Sts>")
    if line.booking_date:
        parts.append(f"<BookgDt><Dt>{line.booking_date.isoformat()}</Dt></BookgDt>")
    if line.value_date:
        parts.append(f"<ValDt><Dt>{line.value_date.isoformat()}</Dt></ValDt>")
    if line.bank_reference:
        parts.append(f"<AcctSvcrRef>{escape(line.bank_reference)}</AcctSvcrRef>")
    parts.append("<NtryDtls>")
    parts.append(_batch(line))
    details = line.transactions or (
        Transaction(None, line.end_to_end_id, line.payment_reference, line.remittance),
    )
    parts.extend(_transaction(tx, line.currency) for tx in details)
    parts.append("</NtryDtls></Ntry>\n")
    return "".join(parts)


def _batch(line: StatementLine) -> str:
    if not line.batch_reference and line.batch_count is None:
        return ""
    parts = ["<Btch>"]
    if line.batch_reference:
        parts.append(f"<PmtInfId>{escape(line.batch_reference)}</PmtInfId>")
    if line.batch_count is not None:
        parts.append(f"<NbOfTxs>{line.batch_count}</NbOfTxs>")
    if line.batch_total is not None:
        total = major_units(line.batch_total, line.currency)
        parts.append(f'<TtlAmt Ccy="{line.currency}">{total}</TtlAmt>')
    parts.append("</Btch>")
    return "".join(parts)


def _transaction(tx: Transaction, currency: str) -> str:
    parts = ["<TxDtls>"]
    if tx.amount is not None:
        parts.append(f'<Amt Ccy="{currency}">{major_units(tx.amount, currency)}</Amt>')
    reference = tx.end_to_end_id or tx.payment_reference
    if reference:
        parts.append(f"<Refs><EndToEndId>{escape(reference)}</EndToEndId></Refs>")
    if tx.remittance:
        parts.append(f"<RmtInf><Ustrd>{escape(tx.remittance)}</Ustrd></RmtInf>")
    parts.append("</TxDtls>")
    return "".join(parts)
