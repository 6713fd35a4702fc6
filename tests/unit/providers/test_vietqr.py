"""VietQR payloads: known vectors, round trips, CRC tampering, reference matching."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.errors import InvalidInput
from payments.providers.vietqr import qr as vietqr

KNOWN_GOOD = (
    "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA5303704"
    "54061200005802VN62170813ung ho lu lut6304C15C"
)


def test_crc_check_value() -> None:
    assert vietqr.crc16_ccitt_false("123456789") == "29B1"


def test_crc_is_zero_padded() -> None:
    padded = [text for text in map(str, range(5000)) if vietqr.crc16_ccitt_false(text)[0] == "0"]
    assert padded
    assert all(len(vietqr.crc16_ccitt_false(text)) == 4 for text in padded)


def test_known_good_payload_parses() -> None:
    parsed = vietqr.parse_payload(KNOWN_GOOD)
    assert (parsed.bank_bin, parsed.account, parsed.service) == (
        "970415",
        "0011001932418",
        "QRIBFTTA",
    )
    assert (parsed.amount, parsed.currency, parsed.country) == (120000, "704", "VN")
    assert parsed.purpose == "ung ho lu lut"
    assert parsed.point_of_initiation == "12"


def test_build_reproduces_the_known_good_payload() -> None:
    built = vietqr.build_payload(
        bank_bin="970415",
        account="0011001932418",
        amount=120000,
        currency="VND",
        purpose="ung ho lu lut",
    )
    assert built == KNOWN_GOOD


@pytest.mark.parametrize("position", range(len(KNOWN_GOOD)))
def test_any_changed_character_fails(position: int) -> None:
    original = KNOWN_GOOD[position]
    replacement = "7" if original != "7" else "8"
    tampered = KNOWN_GOOD[:position] + replacement + KNOWN_GOOD[position + 1 :]
    with pytest.raises(vietqr.InvalidQrPayload):
        vietqr.parse_payload(tampered)


def test_clear_errors() -> None:
    with pytest.raises(vietqr.InvalidQrPayload, match="CRC"):
        vietqr.parse_payload(KNOWN_GOOD[:-4] + "0000")
    with pytest.raises(vietqr.InvalidQrPayload, match="does not end"):
        vietqr.parse_payload(KNOWN_GOOD[:-8])
    broken = "000201010212389" + "6304"
    with pytest.raises(vietqr.InvalidQrPayload, match=r"cut short|TLV"):
        vietqr.parse_payload(broken + vietqr.crc16_ccitt_false(broken))


def test_purpose_is_folded_and_length_checked() -> None:
    payload = vietqr.build_payload(
        bank_bin="970436",
        account="1234567890",
        amount=25_000,
        currency="VND",
        purpose="Nộp phí PF7K2M9Q4X",
    )
    assert vietqr.parse_payload(payload).purpose == "Nop phi PF7K2M9Q4X"
    with pytest.raises(InvalidInput):
        vietqr.build_payload(
            bank_bin="970436",
            account="1",
            amount=1,
            currency="VND",
            purpose="Nộp phí hồ sơ số PF7K2M9Q4X",
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("bank_bin", "97043"), ("account", "12 34"), ("amount", 0), ("currency", "USD")],
)
def test_build_refuses_bad_input(field: str, value: object) -> None:
    args: dict[str, object] = {
        "bank_bin": "970436", "account": "1234567890", "amount": 1, "currency": "VND",
        "purpose": "PF1",
        field: value,
    }  # fmt: skip
    with pytest.raises(InvalidInput):
        vietqr.build_payload(**args)  # type: ignore[arg-type]


def test_optional_name_and_city() -> None:
    payload = vietqr.build_payload(
        bank_bin="970436",
        account="1234567890",
        amount=1,
        currency="VND",
        purpose="PF1",
        merchant_name="Kho bạc Nhà nước",
        merchant_city="Hà Nội",
    )
    parsed = vietqr.parse_payload(payload)
    assert (parsed.merchant_name, parsed.merchant_city) == ("Kho bac Nha nuoc", "Ha Noi")


references = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=25)


@given(
    reference=references,
    amount=st.integers(min_value=1, max_value=10**13 - 1),
    account=st.from_regex(r"[0-9]{1,19}", fullmatch=True),
)
def test_any_reference_and_amount_round_trip(reference: str, amount: int, account: str) -> None:
    payload = vietqr.build_payload(
        bank_bin="970415", account=account, amount=amount, currency="VND", purpose=reference
    )
    parsed = vietqr.parse_payload(payload)
    assert (parsed.purpose, parsed.amount, parsed.account) == (reference, amount, account)
    assert parsed.dynamic


def test_svg_qr_is_an_svg_document() -> None:
    svg = vietqr.svg_qr(KNOWN_GOOD)
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")


OPEN = ["PF7K2M9Q4X", "PF3H8N2B6W"]


@pytest.mark.parametrize(
    "description",
    [
        "PF7K2M9Q4X",
        "pf7k2m9q4x",
        "NGUYEN VAN A chuyen tien nop phi PF7K2M9Q4X ho so 123",
        "IBFT PF7K2-M9Q4X",
        "nộp phí pf 7k2 m9q 4x",
        "MBVCB.123456.PF7K2M9Q4X.CT tu 0011",
    ],
)
def test_reference_is_found_amid_free_text(description: str) -> None:
    assert vietqr.find_reference(description, OPEN) == "PF7K2M9Q4X"
    assert vietqr.find_reference(description, re.compile(r"PF[0-9A-Z]{8}")) == "PF7K2M9Q4X"


def test_no_or_several_references() -> None:
    assert vietqr.find_reference("chuyen tien", OPEN) is None
    assert vietqr.find_reference("PF3H8N2B6W PF7K2M9Q4X", OPEN) is None
    assert vietqr.find_references("PF3H8N2B6W, PF7K2M9Q4X", OPEN) == ["PF3H8N2B6W", "PF7K2M9Q4X"]


@given(reference=st.from_regex(r"PF[0-9A-Z]{8}", fullmatch=True), noise=st.text(max_size=30))
def test_reference_survives_surrounding_text_and_lower_case(reference: str, noise: str) -> None:
    description = f"{noise} {reference.lower()} {noise}"
    assert reference in vietqr.find_references(description, [reference])
