"""VNPay 2.1.0: the signed pay redirect, the return / IPN callback and the IPN answer.

Wire rules (see shared/protocols/vnpay.md): every ``vnp_*`` parameter but the hash itself,
sorted by key, ``key=quote_plus(value)`` joined with ``&``, HMAC-SHA512 as lowercase hex.
Amounts travel multiplied by 100; dates are ``yyyyMMddHHmmss`` in Vietnam time (UTC+7). Inside
the gateway amounts are int VND and times are aware UTC datetimes.

The status query and refund API live in ``vnpay.api``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from urllib.parse import quote_plus

from payments.domain.errors import FieldProblem, InvalidInput
from payments.providers.ascii_text import fold_to_ascii
from payments.providers.outcomes import Rejected, Rejection
from payments.providers.payer_reasons import PayerReason
from payments.providers.signing import hmac_sha512_hex, signature_matches

VERSION = "2.1.0"
CURRENCY = "VND"  # vnp_CurrCode: VNPay 2.1.0 takes payments in dong, and reports amounts in it
CURRENCIES = frozenset({CURRENCY})
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
_UNSIGNED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
_TXN_REF = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# URLSearchParams (JS clients) and quote_plus differ only on these two characters.
_ENCODING_DIVERGES = frozenset("*~")
_ORDER_INFO_PUNCTUATION = " -_.,:/#()"
_ORDER_INFO_MAX = 255


@dataclass(frozen=True)
class VnpayConfig:
    tmn_code: str
    hash_secret: str = field(repr=False)
    pay_url: str
    api_url: str


# --- signatures -----------------------------------------------------------------------------


def signing_string(params: Mapping[str, str], *, keep_empty: bool = True) -> str:
    pairs = sorted(
        (key, value)
        for key, value in params.items()
        if key.startswith("vnp_") and key not in _UNSIGNED and (keep_empty or value != "")
    )
    return "&".join(f"{key}={quote_plus(value)}" for key, value in pairs)


def secure_hash(secret: str, params: Mapping[str, str]) -> str:
    return hmac_sha512_hex(secret, signing_string(params))


def signature_is_valid(secret: str, params: Mapping[str, str]) -> bool:
    """Check ``vnp_SecureHash`` over the other ``vnp_*`` parameters, in constant time.

    VNPay's own samples sign empty values too; the npm ``vnpay`` package (URLSearchParams)
    leaves them out. A signature over either form proves the secret holder sent these values,
    so both are accepted; an empty value adds nothing an attacker could use.
    """
    received = params.get("vnp_SecureHash", "")
    if received == "":
        return False
    if signature_matches(hmac_sha512_hex(secret, signing_string(params)), received):
        return True
    if any(value == "" for value in params.values()):
        without_empty = hmac_sha512_hex(secret, signing_string(params, keep_empty=False))
        return signature_matches(without_empty, received)
    return False


def sign_params(config: VnpayConfig, params: Mapping[str, str]) -> dict[str, str]:
    """Return ``params`` with ``vnp_SecureHash`` added: the provider's side (sandbox simulator)."""
    unsigned = {key: value for key, value in params.items() if key not in _UNSIGNED}
    return {**unsigned, "vnp_SecureHash": secure_hash(config.hash_secret, unsigned)}


# --- wire formats ---------------------------------------------------------------------------


def to_wire_date(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput([FieldProblem("date", "must be an aware datetime")])
    local = moment.astimezone(VIETNAM_TIME)
    # Not strftime: %Y does not zero-pad years before 1000 on every platform.
    return f"{local.year:04d}{local.month:02d}{local.day:02d}{local:%H%M%S}"


def from_wire_date(text: str) -> datetime:
    """``yyyyMMddHHmmss`` in Vietnam time -> aware UTC datetime; ValueError if malformed."""
    if len(text) != 14 or not text.isascii() or not text.isdigit():
        raise ValueError(f"not a yyyyMMddHHmmss date: {text!r}")
    numbers = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
    year, month, day, hour, minute, second = (int(part) for part in numbers)
    local = datetime(year, month, day, hour, minute, second, tzinfo=VIETNAM_TIME)
    try:
        return local.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 before 07:00 has no UTC year
        raise ValueError(f"date out of range: {text!r}") from exc


def to_wire_amount(amount: int) -> str:
    return str(amount * 100)


def from_wire_amount(text: str) -> int:
    """VNPay's x100 amount back to VND; ValueError unless it is a whole number of dong."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"not an amount: {text!r}")
    hundredths = int(text)
    if hundredths % 100:
        raise ValueError(f"amount {text!r} is not a whole number of VND")
    return hundredths // 100


def normalise_order_info(text: str) -> str:
    """ASCII, no diacritics, no ``*``/``~``: what VNPay asks for and what JS clients sign alike."""
    return fold_to_ascii(text, allowed_punctuation=_ORDER_INFO_PUNCTUATION)[:_ORDER_INFO_MAX]


# --- pay redirect ---------------------------------------------------------------------------


def build_pay_url(
    config: VnpayConfig,
    *,
    txn_ref: str,
    amount: int,
    currency: str,
    order_info: str,
    return_url: str,
    ip_addr: str,
    created_at: datetime,
    expires_at: datetime,
    locale: str = "vn",
    order_type: str = "other",
    bank_code: str | None = None,
) -> str:
    """The URL to redirect the payer's browser to; ``amount`` in minor units of ``currency``,
    which must be one VNPay takes (``CURRENCIES``): any other is refused, never sent as VND."""
    problems: list[FieldProblem] = []
    if currency not in CURRENCIES:
        problems.append(FieldProblem("currency", f"VNPay takes {', '.join(sorted(CURRENCIES))}"))
    if type(amount) is not int or amount <= 0:
        problems.append(FieldProblem("amount", "must be a positive whole number of VND"))
    if not _TXN_REF.fullmatch(txn_ref):
        problems.append(FieldProblem("txn_ref", "1-100 letters, digits, '-', '_' or '.'"))
    if locale not in ("vn", "en"):
        problems.append(FieldProblem("locale", "must be 'vn' or 'en'"))
    info = normalise_order_info(order_info)
    if not info:
        problems.append(FieldProblem("order_info", "has no letters or digits left in ASCII"))
    if problems:
        raise InvalidInput(problems)
    params = {
        "vnp_Version": VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": config.tmn_code,
        "vnp_Amount": to_wire_amount(amount),
        "vnp_CurrCode": currency,
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": info,
        "vnp_OrderType": order_type,
        "vnp_Locale": locale,
        "vnp_ReturnUrl": return_url,
        "vnp_IpAddr": ip_addr,
        "vnp_CreateDate": to_wire_date(created_at),
        "vnp_ExpireDate": to_wire_date(expires_at),
    }
    if bank_code:
        params["vnp_BankCode"] = bank_code
    for key, value in params.items():
        # An empty value or one of these characters would be signed differently by JS clients.
        if value == "" or _ENCODING_DIVERGES.intersection(value):
            problems.append(FieldProblem(key, "must be non-empty and free of '*' and '~'"))
    if problems:
        raise InvalidInput(problems)
    signed = sign_params(config, params)
    return f"{config.pay_url}?{signing_string(params)}&vnp_SecureHash={signed['vnp_SecureHash']}"


# --- what a failed try tells the payer --------------------------------------------------------

# vnp_ResponseCode of a return, IPN or querydr answer -> the reason a payer reads. The codes are
# the ones in our protocol notes (third-party tables, shared/protocols/vnpay.md); 12, 13 and 79
# are in VNPay's published table but not in the notes. ``07`` is money debited but held as
# suspicious: the payer must ask before paying again, not simply retry.
PAYER_REASONS: Mapping[str, PayerReason] = {
    "05": PayerReason(
        "Mật khẩu hoặc mã xác thực không đúng.", "The password or one-time code was not right."
    ),
    "06": PayerReason(
        "Mật khẩu hoặc mã xác thực không đúng.", "The password or one-time code was not right."
    ),
    "07": PayerReason(
        "Ngân hàng đã trừ tiền nhưng giao dịch đang bị nghi ngờ và cần kiểm tra. Vui lòng liên "
        "hệ hỗ trợ trước khi thanh toán lại.",
        "The bank took the money but is holding the transaction as suspicious. Please contact "
        "the help desk before paying again.",
    ),
    "09": PayerReason(
        "Thẻ hoặc tài khoản chưa đăng ký dịch vụ Internet Banking.",
        "The card or account is not registered for internet banking.",
    ),
    "10": PayerReason(
        "Thông tin thẻ hoặc tài khoản bị nhập sai quá 3 lần.",
        "The card or account details were entered wrongly more than 3 times.",
    ),
    "11": PayerReason(
        "Đã hết thời gian chờ thanh toán.",
        "The time allowed for paying ran out.",
        stopped_by_payer=True,
    ),
    "12": PayerReason("Thẻ hoặc tài khoản đang bị khóa.", "The card or account is locked."),
    "13": PayerReason(
        "Mã xác thực (OTP) không đúng.", "The one-time password (OTP) was not right."
    ),
    "24": PayerReason(
        "Bạn đã hủy giao dịch.", "You cancelled the transaction.", stopped_by_payer=True
    ),
    "51": PayerReason(
        "Tài khoản không đủ số dư để thanh toán.",
        "There was not enough money in the account.",
    ),
    "65": PayerReason(
        "Tài khoản đã vượt hạn mức giao dịch trong ngày.",
        "The account's daily limit was reached.",
    ),
    "75": PayerReason("Ngân hàng thanh toán đang bảo trì.", "The bank is under maintenance."),
    "79": PayerReason(
        "Mật khẩu thanh toán bị nhập sai quá số lần cho phép.",
        "The payment password was entered wrongly too many times.",
    ),
}


def payer_reason(result_code: str) -> PayerReason | None:
    """The reason for a stored result code (``"<vnp_ResponseCode>/<vnp_TransactionStatus>"``,
    as ``VnpayProvider`` keeps it), or None when the code has no words for a payer."""
    return PAYER_REASONS.get(result_code.partition("/")[0])


# --- return and IPN -------------------------------------------------------------------------


@dataclass(frozen=True)
class VnpayCallback:
    """A return or IPN whose signature and merchant code were checked."""

    txn_ref: str
    amount: int  # VND (exponent 0: minor units are dong)
    response_code: str
    transaction_status: str
    transaction_no: str
    bank_code: str
    bank_tran_no: str
    card_type: str
    order_info: str
    pay_date: datetime | None  # aware UTC

    @property
    def paid(self) -> bool:
        return self.response_code == "00" and self.transaction_status == "00"


def verify_callback(config: VnpayConfig, params: Mapping[str, str]) -> VnpayCallback | Rejected:
    """Verify and parse the query parameters of a return redirect or an IPN call."""
    if not params.get("vnp_SecureHash"):
        return Rejected(Rejection.MISSING_SIGNATURE, "vnp_SecureHash is missing")
    if not signature_is_valid(config.hash_secret, params):
        return Rejected(Rejection.BAD_SIGNATURE, "vnp_SecureHash does not match")
    if params.get("vnp_TmnCode") != config.tmn_code:
        return Rejected(Rejection.WRONG_MERCHANT, "vnp_TmnCode is not ours")
    for required in ("vnp_TxnRef", "vnp_Amount", "vnp_ResponseCode"):
        if not params.get(required):
            return Rejected(Rejection.MALFORMED, f"{required} is missing")
    try:
        amount = from_wire_amount(params["vnp_Amount"])
        pay_date_text = params.get("vnp_PayDate", "")
        pay_date = from_wire_date(pay_date_text) if pay_date_text else None
    except ValueError as exc:
        return Rejected(Rejection.MALFORMED, str(exc))
    return VnpayCallback(
        txn_ref=params["vnp_TxnRef"],
        amount=amount,
        response_code=params["vnp_ResponseCode"],
        transaction_status=params.get("vnp_TransactionStatus", ""),
        transaction_no=params.get("vnp_TransactionNo", ""),
        bank_code=params.get("vnp_BankCode", ""),
        bank_tran_no=params.get("vnp_BankTranNo", ""),
        card_type=params.get("vnp_CardType", ""),
        order_info=params.get("vnp_OrderInfo", ""),
        pay_date=pay_date,
    )


def callback_params(
    config: VnpayConfig,
    *,
    txn_ref: str,
    amount: int,
    response_code: str,
    transaction_status: str,
    transaction_no: str,
    bank_code: str,
    order_info: str,
    pay_date: datetime,
    bank_tran_no: str = "",
    card_type: str = "ATM",
) -> dict[str, str]:
    """A signed return / IPN parameter set, as VNPay sends it (for the sandbox simulator)."""
    params = {
        "vnp_TmnCode": config.tmn_code,
        "vnp_Amount": to_wire_amount(amount),
        "vnp_BankCode": bank_code,
        "vnp_BankTranNo": bank_tran_no,
        "vnp_CardType": card_type,
        "vnp_PayDate": to_wire_date(pay_date),
        "vnp_OrderInfo": order_info,
        "vnp_TransactionNo": transaction_no,
        "vnp_ResponseCode": response_code,
        "vnp_TransactionStatus": transaction_status,
        "vnp_TxnRef": txn_ref,
    }
    return sign_params(config, {key: value for key, value in params.items() if value != ""})


# --- IPN answer -----------------------------------------------------------------------------


class IpnAnswer(Enum):
    CONFIRMED = ("00", "Confirm Success")
    ORDER_NOT_FOUND = ("01", "Order not found")
    ALREADY_CONFIRMED = ("02", "Order already confirmed")
    INVALID_AMOUNT = ("04", "Invalid amount")
    INVALID_SIGNATURE = ("97", "Invalid signature")
    UNKNOWN_ERROR = ("99", "Unknown error")

    @property
    def rsp_code(self) -> str:
        return self.value[0]

    def body(self) -> dict[str, str]:
        """The JSON body VNPay expects in answer to an IPN call."""
        return {"RspCode": self.value[0], "Message": self.value[1]}


def decide_ipn_answer(
    *, signature_ok: bool, order_found: bool, amount_matches: bool, already_processed: bool
) -> IpnAnswer:
    """The documented check order: signature, order, amount, already processed, then apply."""
    if not signature_ok:
        return IpnAnswer.INVALID_SIGNATURE
    if not order_found:
        return IpnAnswer.ORDER_NOT_FOUND
    if not amount_matches:
        return IpnAnswer.INVALID_AMOUNT
    if already_processed:
        return IpnAnswer.ALREADY_CONFIRMED
    return IpnAnswer.CONFIRMED
