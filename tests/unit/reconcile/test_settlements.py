"""Provider settlement reports: each provider's layout, written and read back."""

from __future__ import annotations

import io
from datetime import date

import pytest

from payments.reconcile.formats.settlements import SettlementLine, read_settlement, write_settlement
from payments.reconcile.formats.statements import StatementError


@pytest.mark.parametrize("provider", ["vnpay", "momo", "vietqr"])
def test_round_trip(provider: str) -> None:
    lines = [
        SettlementLine(provider, 2, "T1", "att_01JNZ8Q4J5K6M7N8P9QRSTVWXY", 1250000, 11000,
                       "VND", date(2025, 3, 13)),
        SettlementLine(provider, 3, "T2", "PFABCDEFGHJK", 20000, 0, "VND", date(2025, 3, 13)),
    ]  # fmt: skip
    out = io.StringIO()
    write_settlement(provider, lines, out)
    report = read_settlement(provider, io.BytesIO(out.getvalue().encode()))
    assert report.require_clean() == lines
    assert len(report.content_hash) == 64


def test_vnpay_amounts_are_times_100() -> None:
    data = (
        b"vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"
        b"att_X,14000001,125000000,1100000,20250313\n"
    )
    [line] = read_settlement("vnpay", io.BytesIO(data)).lines
    assert (line.amount, line.fee, line.settlement_date) == (1250000, 11000, date(2025, 3, 13))


def test_bad_rows_carry_line_numbers() -> None:
    data = (
        b"orderId,transId,amount,fee,settlementDate\n"
        b"att_A,1,100,0,2025-03-13\n"
        b"att_B,2,12.5,0,2025-03-13\n"
        b",3,100,0,2025-03-13\n"
        b"att_D,4,100,0,13/03/2025\n"
    )
    report = read_settlement("momo", io.BytesIO(data))
    assert [line.payment_reference for line in report.lines] == ["att_A"]
    assert [error.line_number for error in report.errors] == [3, 4, 5]
    with pytest.raises(StatementError, match="3 malformed line"):
        report.require_clean()


def test_missing_columns_and_unknown_provider() -> None:
    with pytest.raises(StatementError, match="lacks transId"):
        read_settlement("momo", io.BytesIO(b"orderId,amount,fee,settlementDate\n"))
    with pytest.raises(StatementError, match="no settlement layout"):
        read_settlement("paypal", io.BytesIO(b""))


def test_undecodable_report_is_refused() -> None:
    data = b"orderId,transId,amount,fee,settlementDate\natt_A,1,100,0,2025-03-13\n\xff\n"
    with pytest.raises(StatementError, match="not UTF-8 text"):
        read_settlement("momo", io.BytesIO(data))


@pytest.mark.parametrize(
    ("provider", "column"), [("vnpay", "vnp_BatchNo"), ("momo", "batchId"), ("vietqr", "batch_ref")]
)
def test_the_batch_column_round_trips_and_an_empty_cell_is_no_batch(
    provider: str, column: str
) -> None:
    lines = [
        SettlementLine(provider, 2, "T1", "att_A", 100_000, 0, "VND", date(2025, 3, 13), "B-77"),
        SettlementLine(provider, 3, "T2", "att_B", 200_000, 0, "VND", date(2025, 3, 13)),
    ]
    out = io.StringIO()
    write_settlement(provider, lines, out)
    assert column in out.getvalue().splitlines()[0].split(",")
    report = read_settlement(provider, io.BytesIO(out.getvalue().encode()))
    assert report.require_clean() == lines
    assert [line.batch_reference for line in report.lines] == ["B-77", None]


def test_a_report_without_the_batch_column_names_no_batch() -> None:
    data = b"orderId,transId,amount,fee,settlementDate\natt_A,1,100,0,2025-03-13\n"
    [line] = read_settlement("momo", io.BytesIO(data)).require_clean()
    assert line.batch_reference is None


def test_the_batch_column_may_stand_anywhere() -> None:
    data = b"batchId,orderId,transId,amount,fee,settlementDate\n B9 ,att_A,1,100,0,2025-03-13\n"
    [line] = read_settlement("momo", io.BytesIO(data)).require_clean()
    assert (line.payment_reference, line.batch_reference) == ("att_A", "B9")
