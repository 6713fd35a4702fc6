"""camt.053 / camt.054: the real bank samples, and files an attacker or a broken export sends."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementError,
    StatementFormat,
    read_all,
)
from payments.reconcile.formats.writers import camt053

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "camt"
NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _camt(entries: str, currency: str = "VND", prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    xmlns = f"xmlns:{prefix}" if prefix else "xmlns"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{p}Document {xmlns}="{NS}">\n'
        f"<{p}BkToCstmrStmt><{p}Stmt><{p}Id>KBNN-1</{p}Id>\n"
        f"<{p}Acct><{p}Id><{p}Othr><{p}Id>7111</{p}Id></{p}Othr></{p}Id>"
        f"<{p}Ccy>{currency}</{p}Ccy></{p}Acct>\n{entries}"
        f"</{p}Stmt></{p}BkToCstmrStmt></{p}Document>\n"
    ).encode()


def _entry(amount: str, reference: str, currency: str = "VND", p: str = "") -> str:
    p = f"{p}:" if p else ""
    return (
        f'<{p}Ntry>\n<{p}Amt Ccy="{currency}">{amount}</{p}Amt><{p}CdtDbtInd>CRDT</{p}CdtDbtInd>'
        f"<{p}Sts><{p}Cd>BOOK</{p}Cd></{p}Sts><{p}BookgDt><{p}Dt>2025-03-12</{p}Dt></{p}BookgDt>"
        f"<{p}NtryDtls><{p}TxDtls><{p}Refs><{p}EndToEndId>{reference}</{p}EndToEndId></{p}Refs>"
        f"</{p}TxDtls></{p}NtryDtls>\n</{p}Ntry>\n"
    )


def test_camt053_sample_with_debit_reversal_batch_and_credit() -> None:
    statement, lines = read_all(read_camt(SAMPLES / "oca-test-camt053.xml"))
    assert statement.format is StatementFormat.CAMT053
    assert statement.statement_id == "1234Test/1"
    assert statement.account == "NL77ABNA0574908765"
    assert statement.currency == "EUR"
    # The period is written in UTC (05T00:00Z..05T23:59:59.999Z): in Vietnam days, the 5th
    # from 07:00 to 06:59 on the 6th.
    assert (statement.period_start, statement.period_end) == (date(2014, 1, 5), date(2014, 1, 6))
    assert statement.created_at == datetime(2014, 1, 6, 16, 20, 26, 673000, tzinfo=UTC)
    assert len(statement.content_hash) == 64
    assert [line.amount for line in lines] == [75425, 66405, 140531]
    assert [line.direction for line in lines] == [
        Direction.DEBIT,
        Direction.DEBIT,
        Direction.CREDIT,
    ]
    assert [line.reversal for line in lines] == [False, True, False]
    # Entries are numbered 1..N, whatever lines of the file they sit on.
    assert [line.line_number for line in lines] == [1, 2, 3]
    first, batch, credit = lines
    assert first.end_to_end_id == "435005714488-ABNO33052620"
    assert first.remittance == "Insurance policy 857239PERIOD 01.01.2014 - 31.12.2014"
    assert first.booking_date == first.value_date == date(2014, 1, 5)
    assert batch.batch_reference == "2018/125-20141229-NORM"
    assert (batch.batch_count, batch.batch_total) == (2, 66405)
    assert [tx.amount for tx in batch.transactions] == [56405, 10000]
    assert batch.transactions[1].end_to_end_id == "TESTBANK/NL/20141229/01206407"
    assert credit.end_to_end_id == "115"
    assert credit.remittance == "#RD PARTY MEDIA CUSNO 90782 4210773"
    assert credit.status is BookingStatus.BOOKED


@pytest.mark.parametrize(
    "sample", ["oca-test-camt053.xml", "oca-test-camt053-txdtls.xml", "oca-test-camt054.xml"]
)
def test_a_real_sample_on_one_line_reads_as_the_sample(sample: str) -> None:
    # Banks often export without line breaks: the same entries, numbered the same.
    data = (SAMPLES / sample).read_bytes()
    one_line = re.sub(rb">\s+<", b"><", data).replace(b"\r", b"").replace(b"\n", b" ")
    assert one_line.count(b"\n") == 0
    _, lines = read_all(read_camt(io.BytesIO(data)))
    assert read_all(read_camt(io.BytesIO(one_line)))[1] == lines
    assert [line.line_number for line in lines] == list(range(1, len(lines) + 1))


def test_camt053_version_04_batch_without_reference() -> None:
    statement, lines = read_all(read_camt(SAMPLES / "oca-test-camt053-txdtls.xml"))
    assert (statement.statement_id, statement.currency) == ("20170323123456789012345", "CHF")
    assert statement.created_at == datetime(2017, 3, 23, 7, 47, tzinfo=UTC)  # 14:47 at UTC+7
    [line] = lines
    assert (line.amount, line.batch_count, line.batch_reference) == (348300, 2, None)
    assert line.bank_reference == "20170323001234567891234567891234"
    assert line.booking_date == date(2017, 3, 22)
    assert line.value_date == date(2017, 3, 23)
    assert [tx.amount for tx in line.transactions] == [218700, 129600]
    assert "302388292000011111111111111" in line.transactions[0].remittance


def test_camt053_without_entries_takes_the_currency_from_the_balance() -> None:
    statement, lines = read_all(read_camt(SAMPLES / "oca-test-camt053-no-ntry.xml"))
    assert lines == []
    assert (statement.currency, statement.line_count) == ("CHF", 0)


def test_camt054_notification() -> None:
    statement, lines = read_all(read_camt(SAMPLES / "oca-test-camt054.xml"))
    assert statement.format is StatementFormat.CAMT054
    assert statement.statement_id == "20220120000000000000000"
    [line] = lines
    assert (line.amount, line.currency, line.direction) == (500, "EUR", Direction.CREDIT)
    assert line.end_to_end_id == "ENDTOENDID-01"
    assert line.bank_reference == "98888208N8"
    assert line.remittance == "QRR 000000000000000000000000003"


def test_vnd_amounts_use_exponent_zero_and_references_are_found() -> None:
    pid = "pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"
    text = _entry("1250000", pid) + _entry("500000", "NOP THUE PAY01JNZ8Q4J5K6M7N8P9QRSTVWXZ")
    _, lines = read_all(read_camt(io.BytesIO(_camt(text))))
    assert [line.amount for line in lines] == [1250000, 500000]
    assert lines[0].payment_reference == pid
    assert lines[1].payment_reference == "pay_01JNZ8Q4J5K6M7N8P9QRSTVWXZ"


def test_prefixed_namespace_and_other_version_are_read_by_local_names() -> None:
    data = _camt(_entry("10000", "x", p="c"), prefix="c").replace(b"001.08", b"001.02")
    _, lines = read_all(read_camt(io.BytesIO(data)))
    assert [line.amount for line in lines] == [10000]


def test_vnd_amount_with_decimals_is_a_line_error() -> None:
    reader = read_camt(io.BytesIO(_camt(_entry("100.5", "x") + _entry("7", "y"))))
    lines = list(reader)
    assert [line.amount for line in lines] == [7]
    # The first entry; it starts on line 5 of the file, at its first character.
    [error] = reader.errors
    assert (error.entry, error.line_number, error.column) == (1, 5, 1)
    assert "more decimals than VND allows" in error.message
    with pytest.raises(StatementError, match=r"entry 1 \(line 5, column 1\): amount"):
        read_all(read_camt(io.BytesIO(_camt(_entry("100.5", "x")))))


def test_truncated_xml_names_the_line() -> None:
    data = _camt(_entry("1", "a") + _entry("2", "b"))
    with pytest.raises(
        StatementError, match=r"malformed XML at line 10, column 1: unclosed token$"
    ) as caught:
        list(read_camt(io.BytesIO(data[:-40])))
    [error] = caught.value.line_errors
    assert (error.entry, error.line_number, error.column) == (None, 10, 1)


def test_billion_laughs_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
        b"<Document><BkToCstmrStmt>&lol3;</BkToCstmrStmt></Document>\n"
    )
    with pytest.raises(StatementError, match="unsafe XML refused"):
        list(read_camt(io.BytesIO(bomb)))


def test_external_entity_is_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b"<Document>&x;</Document>\n"
    )
    with pytest.raises(StatementError, match="unsafe XML refused"):
        list(read_camt(io.BytesIO(xxe)))


def test_undeclared_entity_without_dtd_is_a_parse_error() -> None:
    data = _camt(_entry("1", "&x;"))
    with pytest.raises(StatementError, match="undefined entity"):
        list(read_camt(io.BytesIO(data)))


def test_wrong_currency_for_the_import_is_refused() -> None:
    with pytest.raises(StatementError, match="currency EUR but the statement must be VND"):
        list(read_camt(io.BytesIO(_camt("", currency="EUR")), expected_currency="VND"))


def test_entry_in_another_currency_is_a_line_error() -> None:
    reader = read_camt(io.BytesIO(_camt(_entry("5", "a", currency="USD"))))
    assert list(reader) == []
    assert "currency 'USD', the statement is VND" in reader.errors[0].message


def test_not_camt_is_refused() -> None:
    with pytest.raises(StatementError, match=r"not a camt\.053 or camt\.054"):
        list(read_camt(io.BytesIO(b"<Document><Other/></Document>")))


def test_statement_is_known_only_after_reading() -> None:
    reader = read_camt(io.BytesIO(_camt("")))
    with pytest.raises(RuntimeError):
        _ = reader.statement
    list(reader)
    assert reader.statement.statement_id == "KBNN-1"


def test_malformed_booking_date_is_a_line_error() -> None:
    data = _camt(_entry("1", "a").replace("2025-03-12", "2025-02-30") + _entry("2", "b"))
    reader = read_camt(io.BytesIO(data))
    assert [line.amount for line in reader] == [2]
    [error] = reader.errors
    assert (error.entry, error.line_number) == (1, 5)
    assert error.message.startswith("entry: ")


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        # Written in Vietnam time, the end the last second of the day.
        ("2025-03-12T00:00:00+07:00", "2025-03-12T23:59:59+07:00", ("2025-03-12", "2025-03-12")),
        # The same day written in UTC: 17:00Z the day before is our midnight.
        ("2025-03-11T17:00:00Z", "2025-03-12T16:59:59Z", ("2025-03-12", "2025-03-12")),
        # An end at midnight exactly is exclusive: the period ended with the day before.
        ("2025-03-12T00:00:00", "2025-03-13T00:00:00", ("2025-03-12", "2025-03-12")),
        # Plain dates are the days written.
        ("2025-03-12", "2025-03-13", ("2025-03-12", "2025-03-13")),
    ],
)
def test_the_period_is_read_as_vietnam_days(start: str, end: str, days: tuple[str, str]) -> None:
    day = date(2025, 3, 12)
    text = "".join(camt053([], statement_id="S", account="7111", currency="VND", day=day))
    text = text.replace(f"{day}T00:00:00+07:00</FrDtTm>", f"{start}</FrDtTm>")
    text = text.replace(f"{day}T23:59:59+07:00</ToDtTm>", f"{end}</ToDtTm>")
    reader = read_camt(io.BytesIO(text.encode()))
    assert list(reader) == []
    header = reader.statement
    assert (header.period_start, header.period_end) == tuple(date.fromisoformat(d) for d in days)
