"""VNPay pay URL, callback verification and IPN answers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.errors import InvalidInput
from payments.providers.outcomes import Rejected, Rejection
from payments.providers.vnpay import protocol as vnpay
from tests.support.provider_configs import VNPAY_CONFIG

CREATED = datetime(2025, 1, 2, 17, 30, 0, tzinfo=UTC)  # 00:30 on 3 Jan in Vietnam


def pay_url(**overrides: object) -> str:
    args: dict[str, object] = {
        "txn_ref": "PF7K2M9Q4X-1",
        "amount": 10_000,
        "currency": "VND",
        "order_info": "Nộp phí hồ sơ 123",
        "return_url": "https://pay.example.gov.vn/return/vnpay",
        "ip_addr": "203.0.113.7",
        "created_at": CREATED,
        "expires_at": CREATED + timedelta(minutes=15),
    }
    args.update(overrides)
    return vnpay.build_pay_url(VNPAY_CONFIG, **args)  # type: ignore[arg-type]


def test_pay_url_is_the_documented_signing_string_plus_its_hmac() -> None:
    expected_string = (
        "vnp_Amount=1000000&vnp_Command=pay&vnp_CreateDate=20250103003000&vnp_CurrCode=VND"
        "&vnp_ExpireDate=20250103004500&vnp_IpAddr=203.0.113.7&vnp_Locale=vn"
        "&vnp_OrderInfo=Nop+phi+ho+so+123&vnp_OrderType=other"
        "&vnp_ReturnUrl=https%3A%2F%2Fpay.example.gov.vn%2Freturn%2Fvnpay"
        "&vnp_TmnCode=DEMO0001&vnp_TxnRef=PF7K2M9Q4X-1&vnp_Version=2.1.0"
    )
    expected_hash = hmac.new(
        VNPAY_CONFIG.hash_secret.encode(), expected_string.encode(), hashlib.sha512
    ).hexdigest()
    assert pay_url() == f"{VNPAY_CONFIG.pay_url}?{expected_string}&vnp_SecureHash={expected_hash}"


def test_pay_url_parameters_verify_and_carry_amount_times_100() -> None:
    params = dict(parse_qsl(urlsplit(pay_url()).query, keep_blank_values=True))
    assert params["vnp_Amount"] == "1000000"
    assert vnpay.signature_is_valid(VNPAY_CONFIG.hash_secret, params)


def test_order_info_is_folded_to_ascii_without_js_divergent_characters() -> None:
    assert vnpay.normalise_order_info("Thanh toán *phí* ~ Đăng ký  xe") == (
        "Thanh toan phi Dang ky xe"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -5),
        ("amount", True),
        ("currency", "USD"),  # never sent as vnp_CurrCode=VND, nor at all
        ("txn_ref", "has space"),
        ("txn_ref", ""),
        ("locale", "fr"),
        ("order_info", "***"),
        ("return_url", "https://example.gov.vn/~user"),
        ("ip_addr", ""),
        ("created_at", datetime(2025, 1, 1)),  # naive  # noqa: DTZ001
    ],
)
def test_build_pay_url_refuses_bad_input(field: str, value: object) -> None:
    with pytest.raises(InvalidInput):
        pay_url(**{field: value})


def signed_callback(**overrides: str) -> dict[str, str]:
    params = vnpay.callback_params(
        VNPAY_CONFIG,
        txn_ref="PF7K2M9Q4X-1",
        amount=10_000,
        response_code="00",
        transaction_status="00",
        transaction_no="14400001",
        bank_code="NCB",
        bank_tran_no="VNP14400001",
        order_info="Nop phi ho so 123",
        pay_date=CREATED,
    )
    return vnpay.sign_params(VNPAY_CONFIG, {**params, **overrides})


def test_verified_callback_is_typed() -> None:
    result = vnpay.verify_callback(VNPAY_CONFIG, signed_callback())
    assert result == vnpay.VnpayCallback(
        txn_ref="PF7K2M9Q4X-1",
        amount=10_000,
        response_code="00",
        transaction_status="00",
        transaction_no="14400001",
        bank_code="NCB",
        bank_tran_no="VNP14400001",
        card_type="ATM",
        order_info="Nop phi ho so 123",
        pay_date=CREATED,
    )
    assert result.paid
    assert result.pay_date is not None
    assert result.pay_date.tzinfo == UTC


@pytest.mark.parametrize(
    ("response_code", "status", "paid"),
    [("00", "00", True), ("24", "02", False), ("00", "01", False), ("07", "07", False)],
)
def test_paid_needs_both_codes(response_code: str, status: str, paid: bool) -> None:
    params = signed_callback(vnp_ResponseCode=response_code, vnp_TransactionStatus=status)
    result = vnpay.verify_callback(VNPAY_CONFIG, params)
    assert isinstance(result, vnpay.VnpayCallback)
    assert result.paid is paid


@pytest.mark.parametrize("key", sorted(signed_callback()))
def test_tampering_with_any_field_is_rejected(key: str) -> None:
    params = signed_callback()
    params[key] = params[key] + "1" if key != "vnp_SecureHash" else "0" * 128
    result = vnpay.verify_callback(VNPAY_CONFIG, params)
    assert result == Rejected(Rejection.BAD_SIGNATURE, "vnp_SecureHash does not match")


def test_added_or_removed_parameter_is_rejected() -> None:
    added = {**signed_callback(), "vnp_Extra": "x"}
    removed = signed_callback()
    del removed["vnp_BankCode"]
    for params in (added, removed):
        assert isinstance(vnpay.verify_callback(VNPAY_CONFIG, params), Rejected)


def test_missing_signature_wrong_merchant_and_malformed_are_told_apart() -> None:
    unsigned = signed_callback()
    del unsigned["vnp_SecureHash"]
    other = vnpay.VnpayConfig(
        "OTHER001", VNPAY_CONFIG.hash_secret, VNPAY_CONFIG.pay_url, VNPAY_CONFIG.api_url
    )
    cases = {
        Rejection.MISSING_SIGNATURE: vnpay.verify_callback(VNPAY_CONFIG, unsigned),
        Rejection.WRONG_MERCHANT: vnpay.verify_callback(other, signed_callback()),
        Rejection.MALFORMED: vnpay.verify_callback(
            VNPAY_CONFIG, signed_callback(vnp_Amount="1000050")
        ),
    }
    for reason, result in cases.items():
        assert isinstance(result, Rejected)
        assert result.reason is reason


def test_uppercase_hash_and_signatures_without_empty_values_are_accepted() -> None:
    params = signed_callback()
    params["vnp_SecureHash"] = params["vnp_SecureHash"].upper()
    assert isinstance(vnpay.verify_callback(VNPAY_CONFIG, params), vnpay.VnpayCallback)
    # A signer that leaves empty values out (URLSearchParams), and a receiver that keeps them.
    signed_without_empty = vnpay.callback_params(
        VNPAY_CONFIG,
        txn_ref="PF7K2M9Q4X-1",
        amount=10_000,
        response_code="24",
        transaction_status="02",
        transaction_no="0",
        bank_code="NCB",
        order_info="Nop phi",
        pay_date=CREATED,
    )
    assert "vnp_BankTranNo" not in signed_without_empty
    with_empty = {**signed_without_empty, "vnp_BankTranNo": ""}
    assert isinstance(vnpay.verify_callback(VNPAY_CONFIG, with_empty), vnpay.VnpayCallback)


def test_non_ascii_hash_is_a_bad_signature_not_a_crash() -> None:
    params = {**signed_callback(), "vnp_SecureHash": "é" * 128}
    result = vnpay.verify_callback(VNPAY_CONFIG, params)
    assert isinstance(result, Rejected)


callback_keys = sorted(k for k in signed_callback() if k != "vnp_SecureHash")


@given(
    key=st.sampled_from(callback_keys),
    position=st.integers(min_value=0, max_value=200),
    replacement=st.characters(codec="utf-8", exclude_categories=["Cs"]),
)
def test_any_single_character_change_fails_verification(
    key: str, position: int, replacement: str
) -> None:
    params = signed_callback()
    value = params[key]
    index = position % (len(value) + 1)
    changed = value[:index] + replacement + value[index + 1 :]
    if changed == value:
        return
    params[key] = changed
    assert not vnpay.signature_is_valid(VNPAY_CONFIG.hash_secret, params)


@given(moment=st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)))
def test_wire_dates_round_trip_through_vietnam_time(moment: datetime) -> None:
    if moment.year > 9998:  # Vietnam time would be in year 10000
        return
    wire = vnpay.to_wire_date(moment)
    assert vnpay.from_wire_date(wire) == moment


def test_wire_date_is_vietnam_wall_clock() -> None:
    seven = timezone(timedelta(hours=7))
    assert vnpay.to_wire_date(datetime(2025, 1, 3, 0, 30, tzinfo=seven)) == "20250103003000"
    assert vnpay.to_wire_date(CREATED) == "20250103003000"


@pytest.mark.parametrize(
    ("signature_ok", "found", "amount_ok", "processed", "code"),
    [
        (False, False, False, False, "97"),
        (False, True, True, True, "97"),
        (True, False, False, True, "01"),
        (True, True, False, True, "04"),
        (True, True, True, True, "02"),
        (True, True, True, False, "00"),
    ],
)
def test_ipn_answer_follows_the_documented_check_order(
    signature_ok: bool, found: bool, amount_ok: bool, processed: bool, code: str
) -> None:
    answer = vnpay.decide_ipn_answer(
        signature_ok=signature_ok,
        order_found=found,
        amount_matches=amount_ok,
        already_processed=processed,
    )
    assert answer.rsp_code == code
    assert answer.body()["RspCode"] == code


def test_ipn_answer_bodies() -> None:
    assert {a.rsp_code for a in vnpay.IpnAnswer} == {"00", "01", "02", "04", "97", "99"}
    assert vnpay.IpnAnswer.UNKNOWN_ERROR.body() == {"RspCode": "99", "Message": "Unknown error"}


def test_secret_is_not_in_repr() -> None:
    assert VNPAY_CONFIG.hash_secret not in repr(VNPAY_CONFIG)
