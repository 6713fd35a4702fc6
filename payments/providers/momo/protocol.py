"""MoMo payment API v2 (AIO): create request, IPN, result codes and signatures.

Every signature is hex HMAC-SHA256 with the secret key over ``key=value`` pairs in alphabetical
key order with raw (not URL-encoded) values, including the merchant's ``accessKey``, which is
signed but never sent. Amounts are int VND. The query and refund API live in ``momo.api``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from payments.domain.errors import FieldProblem, InvalidInput
from payments.providers.outcomes import Rejected, Rejection
from payments.providers.payer_reasons import PayerReason
from payments.providers.signing import hmac_sha256_hex, signature_matches

CREATE_SIGNED = (
    "accessKey", "amount", "extraData", "ipnUrl", "orderId", "orderInfo", "partnerCode",
    "redirectUrl", "requestId", "requestType",
)  # fmt: skip
IPN_SIGNED = (
    "accessKey", "amount", "extraData", "message", "orderId", "orderInfo", "orderType",
    "partnerCode", "payType", "requestId", "responseTime", "resultCode", "transId",
)  # fmt: skip
QUERY_SIGNED = ("accessKey", "orderId", "partnerCode", "requestId")
REFUND_SIGNED = (
    "accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId",
)  # fmt: skip

IPN_ACK_STATUS = 204  # MoMo wants an empty 204 within 15 s
CURRENCY = "VND"  # MoMo takes and reports amounts in dong only (no currency on the wire)
CURRENCIES = frozenset({CURRENCY})
REQUEST_TYPES = frozenset({"captureWallet", "payWithATM", "payWithCC"})
MIN_AMOUNT = 10_000
MAX_AMOUNT = 50_000_000
_ORDER_ID = re.compile(r"[A-Za-z0-9_.-]{1,50}")


@dataclass(frozen=True)
class MomoConfig:
    partner_code: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    api_url: str  # e.g. https://test-payment.momo.vn


# --- signatures -----------------------------------------------------------------------------


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def raw_signature_string(
    config: MomoConfig, values: Mapping[str, object], keys: Sequence[str]
) -> str:
    """``accessKey=..&amount=..&...`` with ``keys`` (already alphabetical), raw values."""
    merged = {**values, "accessKey": config.access_key}
    return "&".join(f"{key}={_text(merged.get(key, '')) or ''}" for key in keys)


def sign(config: MomoConfig, values: Mapping[str, object], keys: Sequence[str]) -> str:
    return hmac_sha256_hex(config.secret_key, raw_signature_string(config, values, keys))


def signature_is_valid(
    config: MomoConfig, values: Mapping[str, object], keys: Sequence[str]
) -> bool:
    if any(key != "accessKey" and _text(values.get(key, "")) is None for key in keys):
        return False
    return signature_matches(sign(config, values, keys), values.get("signature"))


# --- result codes -------------------------------------------------------------------------


class MomoStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"


# 9000 is "authorized": with auto-capture (our only mode) it is as good as 0.
SUCCESS_CODES = frozenset({0, 9000})
PENDING_CODES = frozenset({1000, 7000, 7002, 8000})

RESULT_MESSAGES: Mapping[int, str] = {
    0: "success",
    9000: "authorized",
    8000: "waiting for the user",
    7000: "processing",
    7002: "processing",
    1000: "initiated",
    10: "system maintenance",
    11: "access denied",
    12: "unsupported API version",
    13: "merchant authentication failed",
    21: "invalid amount",
    40: "duplicate requestId",
    41: "duplicate orderId",
    42: "invalid orderId",
    1001: "insufficient funds",
    1003: "cancelled",
    1005: "payment link expired",
    1006: "user declined",
}


# resultCode -> the reason a payer reads, for the failures a payer can do something about
# (the merchant-side errors, 10-42, have no words for them: the page says only "did not go
# through"). 1001-1006 are third-party, unconfirmed codes (see shared/protocols/momo.md).
PAYER_REASONS: Mapping[int, PayerReason] = {
    10: PayerReason("MoMo đang bảo trì hệ thống.", "MoMo is under maintenance."),
    1001: PayerReason(
        "Ví MoMo không đủ số dư để thanh toán.",
        "There was not enough money in the MoMo wallet.",
    ),
    1003: PayerReason(
        "Giao dịch đã bị hủy.", "The transaction was cancelled.", stopped_by_payer=True
    ),
    1005: PayerReason(
        "Liên kết hoặc mã QR thanh toán đã hết hạn.",
        "The payment link or QR code expired.",
        stopped_by_payer=True,
    ),
    1006: PayerReason(
        "Bạn đã từ chối thanh toán trong ứng dụng MoMo.",
        "You declined the payment in the MoMo app.",
        stopped_by_payer=True,
    ),
}


def payer_reason(result_code: str) -> PayerReason | None:
    """The reason for a stored result code (the resultCode as text), or None."""
    if not result_code.isascii() or not result_code.isdigit():
        return None
    return PAYER_REASONS.get(int(result_code))


def classify_result(result_code: int) -> MomoStatus:
    if result_code in SUCCESS_CODES:
        return MomoStatus.SUCCEEDED
    if result_code in PENDING_CODES:
        return MomoStatus.PENDING
    return MomoStatus.FAILED


# --- create -------------------------------------------------------------------------------


def create_body(
    config: MomoConfig,
    *,
    request_id: str,
    order_id: str,
    amount: int,
    order_info: str,
    redirect_url: str,
    ipn_url: str,
    request_type: str = "captureWallet",
    extra_data: str = "",
    lang: str = "vi",
    partner_name: str = "",
    store_id: str = "",
) -> dict[str, object]:
    """JSON body for POST /v2/gateway/api/create; ``amount`` in VND."""
    problems: list[FieldProblem] = []
    if type(amount) is not int or not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        problems.append(FieldProblem("amount", f"must be {MIN_AMOUNT}..{MAX_AMOUNT} VND"))
    if not _ORDER_ID.fullmatch(order_id):
        problems.append(FieldProblem("order_id", "1-50 letters, digits, '-', '_' or '.'"))
    if not 0 < len(request_id) <= 50:
        problems.append(FieldProblem("request_id", "1-50 characters"))
    if request_type not in REQUEST_TYPES:
        problems.append(FieldProblem("request_type", f"one of {sorted(REQUEST_TYPES)}"))
    if lang not in ("vi", "en"):
        problems.append(FieldProblem("lang", "must be 'vi' or 'en'"))
    if problems:
        raise InvalidInput(problems)
    body: dict[str, object] = {
        "partnerCode": config.partner_code,
        "requestId": request_id,
        "amount": amount,
        "orderId": order_id,
        "orderInfo": order_info,
        "redirectUrl": redirect_url,
        "ipnUrl": ipn_url,
        "requestType": request_type,
        "extraData": extra_data,
        "lang": lang,
    }
    if partner_name:
        body["partnerName"] = partner_name
    if store_id:
        body["storeId"] = store_id
    return {**body, "signature": sign(config, body, CREATE_SIGNED)}


# --- IPN ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MomoIpn:
    """An IPN (or redirect) whose signature and partner code were checked. The caller still
    compares ``order_id`` and ``amount`` with what it asked for."""

    order_id: str
    request_id: str
    amount: int  # VND
    trans_id: int
    result_code: int
    message: str
    pay_type: str
    order_info: str
    order_type: str
    extra_data: str
    response_time: datetime  # aware UTC

    @property
    def status(self) -> MomoStatus:
        return classify_result(self.result_code)


def integer_field(value: object) -> int | None:
    """MoMo sends numbers as JSON numbers; redirects carry them as digit strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    return None


def from_millis(millis: int) -> datetime:
    # Integer arithmetic: fromtimestamp() would round through a binary fraction.
    seconds, remainder = divmod(millis, 1000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=remainder * 1000)


def verify_ipn(config: MomoConfig, body: Mapping[str, object]) -> MomoIpn | Rejected:
    if not body.get("signature"):
        return Rejected(Rejection.MISSING_SIGNATURE, "signature is missing")
    if not signature_is_valid(config, body, IPN_SIGNED):
        return Rejected(Rejection.BAD_SIGNATURE, "signature does not match")
    if body.get("partnerCode") != config.partner_code:
        return Rejected(Rejection.WRONG_MERCHANT, "partnerCode is not ours")
    numbers = {
        key: integer_field(body.get(key))
        for key in ("amount", "transId", "resultCode", "responseTime")
    }
    strings = {
        key: body.get(key, "")
        for key in ("orderId", "requestId", "message", "payType", "orderInfo", "orderType")
    }
    missing = [key for key, value in numbers.items() if value is None]
    missing += [key for key, value in strings.items() if not isinstance(value, str)]
    if missing or not strings["orderId"]:
        return Rejected(Rejection.MALFORMED, f"bad or missing fields: {missing or ['orderId']}")
    ints = {key: value for key, value in numbers.items() if value is not None}
    extra_data = body.get("extraData", "")
    return MomoIpn(
        order_id=str(strings["orderId"]),
        request_id=str(strings["requestId"]),
        amount=ints["amount"],
        trans_id=ints["transId"],
        result_code=ints["resultCode"],
        message=str(strings["message"]),
        pay_type=str(strings["payType"]),
        order_info=str(strings["orderInfo"]),
        order_type=str(strings["orderType"]),
        extra_data=extra_data if isinstance(extra_data, str) else "",
        response_time=from_millis(ints["responseTime"]),
    )


# --- provider side (sandbox simulator) --------------------------------------------------------


def verify_create_request(config: MomoConfig, body: Mapping[str, object]) -> bool:
    return body.get("partnerCode") == config.partner_code and signature_is_valid(
        config, body, CREATE_SIGNED
    )


def verify_query_request(config: MomoConfig, body: Mapping[str, object]) -> bool:
    return body.get("partnerCode") == config.partner_code and signature_is_valid(
        config, body, QUERY_SIGNED
    )


def verify_refund_request(config: MomoConfig, body: Mapping[str, object]) -> bool:
    return body.get("partnerCode") == config.partner_code and signature_is_valid(
        config, body, REFUND_SIGNED
    )


def sign_ipn(config: MomoConfig, fields: Mapping[str, object]) -> dict[str, object]:
    """Return the IPN body with its signature, as MoMo would send it."""
    unsigned = {key: value for key, value in fields.items() if key != "signature"}
    return {**unsigned, "signature": sign(config, unsigned, IPN_SIGNED)}
