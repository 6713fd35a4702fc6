"""Refund lines in the providers' settlement reports: the optional kind column (VNPay
``vnp_TransactionType``, MoMo ``type``), and the older files without it."""

from __future__ import annotations

import io
from datetime import date

import pytest

from payments.reconcile.formats.settlements import (
    LineKind,
    SettlementLine,
    read_settlement,
    write_settlement,
)
from payments.reconcile.formats.statements import StatementError

DAY = date(2025, 3, 13)
REFUND = "rfd_01JNZ8Q4J5K6M7N8P9QRSTVWXY"


def _written(provider: str, lines: list[SettlementLine], *, lists_refunds: bool = True) -> bytes:
    out = io.StringIO()
    write_settlement(provider, lines, out, lists_refunds=lists_refunds)
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("provider", "column", "kinds"),
    [
        ("vnpay", "vnp_TransactionType", [LineKind.PAYMENT, LineKind.REFUND, LineKind.FULL_REFUND]),
        ("momo", "type", [LineKind.PAYMENT, LineKind.REFUND]),
    ],
)
def test_refund_lines_round_trip_and_the_report_lists_refunds(
    provider: str, column: str, kinds: list[LineKind]
) -> None:
    lines = [
        SettlementLine(provider, number, f"T{number}", f"ref{number}", 30_000, 0, "VND", DAY,
                       None, kind)
        for number, kind in enumerate(kinds, start=2)
    ]  # fmt: skip
    content = _written(provider, lines)
    assert column in content.decode().splitlines()[0].split(",")
    report = read_settlement(provider, io.BytesIO(content))
    assert report.require_clean() == lines
    assert report.lists_refunds
    assert [line.is_refund for line in report.lines] == [k is not LineKind.PAYMENT for k in kinds]


def test_vnpay_codes_01_or_empty_are_payments_02_and_03_refunds() -> None:
    data = (
        b"vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate,vnp_TransactionType\n"
        b"att_A,14000001,15000000,0,20250313,01\n"
        b"att_B,14000002,7000000,0,20250313,\n"
        b"rfd_A,15000001,3000000,0,20250313,03\n"
        b"rfd_B,15000002,15000000,0,20250313,02\n"
    )
    report = read_settlement("vnpay", io.BytesIO(data))
    assert [(line.kind, line.amount) for line in report.require_clean()] == [
        (LineKind.PAYMENT, 150_000),
        (LineKind.PAYMENT, 70_000),
        (LineKind.REFUND, 30_000),
        (LineKind.FULL_REFUND, 150_000),
    ]
    refund = report.lines[2]
    assert (refund.payment_reference, refund.provider_txn_id) == ("rfd_A", "15000001")


@pytest.mark.parametrize(
    ("provider", "data"),
    [
        ("vnpay", b"vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"
                  b"att_A,14000001,15000000,0,20250313\n"),
        ("momo", b"orderId,transId,amount,fee,settlementDate,batchId\n"
                 b"att_A,3100001,150000,0,2025-03-13,\n"),
        ("vietqr", b"reference,bankTransactionId,amount,fee,settlementDate,type\n"
                   b"PFABCDEFGHJK,FT1,150000,0,13/03/2025,refund\n"),
    ],
)  # fmt: skip
def test_a_report_without_the_kind_column_is_all_payments_and_lists_no_refunds(
    provider: str, data: bytes
) -> None:
    report = read_settlement(provider, io.BytesIO(data))
    [line] = report.require_clean()
    assert line.kind is LineKind.PAYMENT
    assert not report.lists_refunds


def test_a_bad_kind_is_a_line_error_with_its_line_number() -> None:
    vnpay = (
        b"vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate,vnp_TransactionType\n"
        b"att_A,14000001,15000000,0,20250313,01\n"
        b"rfd_A,15000001,3000000,0,20250313,04\n"
        b"rfd_B,15000002,3000000,0,20250313,refund\n"
    )
    report = read_settlement("vnpay", io.BytesIO(vnpay))
    assert [line.payment_reference for line in report.lines] == ["att_A"]
    assert [(e.line_number, e.message) for e in report.errors] == [
        (3, "vnp_TransactionType '04' is not one of '01', '02', '03'"),
        (4, "vnp_TransactionType 'refund' is not one of '01', '02', '03'"),
    ]
    with pytest.raises(StatementError, match="2 malformed line"):
        report.require_clean()
    momo = b"orderId,transId,amount,fee,settlementDate,type\nrfd_A,1,100,0,2025-03-13,Refund\n"
    [error] = read_settlement("momo", io.BytesIO(momo)).errors
    assert (error.line_number, error.message) == (
        2,
        "type 'Refund' is not one of 'payment', 'refund'",
    )


def test_a_report_written_without_refunds_has_no_kind_column_and_takes_no_refund_line() -> None:
    payment = SettlementLine("vnpay", 2, "T1", "att_A", 150_000, 0, "VND", DAY)
    content = _written("vnpay", [payment], lists_refunds=False)
    assert "vnp_TransactionType" not in content.decode()
    assert not read_settlement("vnpay", io.BytesIO(content)).lists_refunds
    refund = payment._replace(payment_reference=REFUND, kind=LineKind.REFUND)
    with pytest.raises(ValueError, match="cannot list refund lines"):
        _written("vnpay", [refund], lists_refunds=False)
