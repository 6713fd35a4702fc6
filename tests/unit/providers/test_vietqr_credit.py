"""The collection bank's signed credit notification."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.providers.outcomes import Rejected, Rejection
from payments.providers.vietqr import credit as vietqr_credit

SECRET = "bank-webhook-secret"
CREDIT = vietqr_credit.CreditNotification(
    transfer_id="FT25001234567",
    amount=150_000,
    currency="VND",
    description="NGUYEN VAN A nop phi PF7K2M9Q4X",
    credited_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
)


def test_round_trip() -> None:
    body, header = vietqr_credit.encode_notification(SECRET, CREDIT)
    assert header.startswith("sha256=")
    assert vietqr_credit.verify_notification(SECRET, body, header) == CREDIT


def test_signature_is_over_the_raw_body() -> None:
    body, header = vietqr_credit.encode_notification(SECRET, CREDIT)
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    result = vietqr_credit.verify_notification(SECRET, reformatted, header)
    assert isinstance(result, Rejected)
    assert result.reason is Rejection.BAD_SIGNATURE


@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_any_changed_byte_is_rejected(position: int, byte: int) -> None:
    body, header = vietqr_credit.encode_notification(SECRET, CREDIT)
    index = position % len(body)
    if body[index] == byte:
        return
    tampered = body[:index] + bytes([byte]) + body[index + 1 :]
    assert isinstance(vietqr_credit.verify_notification(SECRET, tampered, header), Rejected)


def test_missing_and_malformed_signatures() -> None:
    body, header = vietqr_credit.encode_notification(SECRET, CREDIT)
    for signature, reason in [
        (None, Rejection.MISSING_SIGNATURE),
        ("", Rejection.MISSING_SIGNATURE),
        (header.removeprefix("sha256="), Rejection.BAD_SIGNATURE),
        ("sha256=" + "é" * 64, Rejection.BAD_SIGNATURE),
        (vietqr_credit.signature_header("other", body), Rejection.BAD_SIGNATURE),
    ]:
        result = vietqr_credit.verify_notification(SECRET, body, signature)
        assert isinstance(result, Rejected)
        assert result.reason is reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": 1.5}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "150000"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"transfer_id": ""}, "transfer_id"),
        ({"description": None}, "description"),
        ({"credited_at": "2025-01-02T03:04:05"}, "offset"),
        ({"credited_at": "yesterday"}, "ISO 8601"),
    ],
)
def test_malformed_fields_are_rejected_with_a_reason(
    change: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "transfer_id": "FT1", "amount": 1, "currency": "VND", "description": "x",
        "credited_at": "2025-01-02T03:04:05+07:00",
    }  # fmt: skip
    body = json.dumps({**fields, **change}).encode()
    result = vietqr_credit.verify_notification(
        SECRET, body, vietqr_credit.signature_header(SECRET, body)
    )
    assert isinstance(result, Rejected)
    assert result.reason is Rejection.MALFORMED
    assert message in result.detail


def test_signed_non_json_is_malformed() -> None:
    for body in (b"not json", b"[1, 2]", b"\xff"):
        result = vietqr_credit.verify_notification(
            SECRET, body, vietqr_credit.signature_header(SECRET, body)
        )
        assert isinstance(result, Rejected)
        assert result.reason is Rejection.MALFORMED


def test_a_signed_body_naming_a_field_twice_is_malformed() -> None:
    """The signature covers the bytes; a body with two amounts has no one meaning to sign."""
    body = (
        b'{"transfer_id": "FT1", "amount": 1000000, "currency": "VND", "description": "x",'
        b' "credited_at": "2025-01-02T03:04:05+07:00", "amount": 1}'
    )
    result = vietqr_credit.verify_notification(
        SECRET, body, vietqr_credit.signature_header(SECRET, body)
    )
    assert isinstance(result, Rejected)
    assert result.reason is Rejection.MALFORMED
    assert "'amount' appears twice" in result.detail


def test_offsets_are_converted_to_utc() -> None:
    body = json.dumps({
        "transfer_id": "FT1", "amount": 1, "currency": "VND", "description": "x",
        "credited_at": "2025-01-02T10:04:05+07:00",
    }).encode()  # fmt: skip
    result = vietqr_credit.verify_notification(
        SECRET, body, vietqr_credit.signature_header(SECRET, body)
    )
    assert isinstance(result, vietqr_credit.CreditNotification)
    assert result.credited_at == CREDIT.credited_at
