"""VNPay 2.1.0 merchant API: status query (``querydr``) and refund, both JSON POSTs.

Requests and answers carry an HMAC-SHA512 over their values joined by ``|`` in a fixed order
(missing values as empty strings). An answer is used only when its checksum, merchant code,
command and transaction reference all check out: an unsigned or foreign answer is ``Rejected``,
and an answer we could not get is ``Unknown``. Neither may change a payment's state.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from payments.domain.errors import FieldProblem, InvalidInput
from payments.providers.outcomes import Rejected, Rejection, Unknown, post_json
from payments.providers.signing import hmac_sha512_hex, signature_matches
from payments.providers.vnpay.protocol import (
    VERSION,
    VnpayConfig,
    from_wire_amount,
    from_wire_date,
    normalise_order_info,
    to_wire_amount,
    to_wire_date,
)

QUERYDR_REQUEST_ORDER = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
REFUND_REQUEST_ORDER = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType",
    "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy",
    "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
REFUND_RESPONSE_ORDER = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo",
)  # fmt: skip
QUERYDR_RESPONSE_ORDER = (*REFUND_RESPONSE_ORDER, "vnp_PromotionCode", "vnp_PromotionAmount")

FULL_REFUND = "02"
PARTIAL_REFUND = "03"
TIMEOUT_SECONDS = 30


def _text(value: object) -> str | None:
    """A JSON value as the text VNPay hashes; None for values no checksum can cover."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def checksum(secret: str, values: Mapping[str, object], order: Sequence[str]) -> str:
    return hmac_sha512_hex(secret, "|".join(_text(values.get(key)) or "" for key in order))


def _checksum_ok(secret: str, values: Mapping[str, object], order: Sequence[str]) -> bool:
    return signature_matches(checksum(secret, values, order), values.get("vnp_SecureHash"))


def new_request_id() -> str:
    """Unique per day as VNPay asks; 128 random bits make a clash practically impossible."""
    return secrets.token_hex(16)


# --- requests (merchant side) ----------------------------------------------------------------


def querydr_body(
    config: VnpayConfig,
    *,
    request_id: str,
    txn_ref: str,
    order_info: str,
    transaction_date: datetime,
    created_at: datetime,
    ip_addr: str,
) -> dict[str, str]:
    body = {
        "vnp_RequestId": request_id,
        "vnp_Version": VERSION,
        "vnp_Command": "querydr",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TxnRef": txn_ref,
        "vnp_TransactionDate": to_wire_date(transaction_date),
        "vnp_CreateDate": to_wire_date(created_at),
        "vnp_IpAddr": ip_addr,
        "vnp_OrderInfo": normalise_order_info(order_info),
    }
    return {**body, "vnp_SecureHash": checksum(config.hash_secret, body, QUERYDR_REQUEST_ORDER)}


def refund_body(
    config: VnpayConfig,
    *,
    request_id: str,
    txn_ref: str,
    amount: int,
    full: bool,
    transaction_no: str,
    transaction_date: datetime,
    created_by: str,
    created_at: datetime,
    ip_addr: str,
    order_info: str,
) -> dict[str, str]:
    """``amount`` in VND; ``transaction_no`` is VNPay's number, ``"0"`` when unknown."""
    if type(amount) is not int or amount <= 0:
        raise InvalidInput([FieldProblem("amount", "must be a positive whole number of VND")])
    body = {
        "vnp_RequestId": request_id,
        "vnp_Version": VERSION,
        "vnp_Command": "refund",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TransactionType": FULL_REFUND if full else PARTIAL_REFUND,
        "vnp_TxnRef": txn_ref,
        "vnp_Amount": to_wire_amount(amount),
        "vnp_TransactionNo": transaction_no or "0",
        "vnp_TransactionDate": to_wire_date(transaction_date),
        "vnp_CreateBy": created_by,
        "vnp_CreateDate": to_wire_date(created_at),
        "vnp_IpAddr": ip_addr,
        "vnp_OrderInfo": normalise_order_info(order_info),
    }
    return {**body, "vnp_SecureHash": checksum(config.hash_secret, body, REFUND_REQUEST_ORDER)}


# --- provider side (sandbox simulator) --------------------------------------------------------


def verify_querydr_request(config: VnpayConfig, body: Mapping[str, object]) -> bool:
    return body.get("vnp_TmnCode") == config.tmn_code and _checksum_ok(
        config.hash_secret, body, QUERYDR_REQUEST_ORDER
    )


def verify_refund_request(config: VnpayConfig, body: Mapping[str, object]) -> bool:
    return body.get("vnp_TmnCode") == config.tmn_code and _checksum_ok(
        config.hash_secret, body, REFUND_REQUEST_ORDER
    )


def sign_querydr_response(config: VnpayConfig, fields: Mapping[str, str]) -> dict[str, str]:
    return {
        **fields,
        "vnp_SecureHash": checksum(config.hash_secret, fields, QUERYDR_RESPONSE_ORDER),
    }


def sign_refund_response(config: VnpayConfig, fields: Mapping[str, str]) -> dict[str, str]:
    return {**fields, "vnp_SecureHash": checksum(config.hash_secret, fields, REFUND_RESPONSE_ORDER)}


# --- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryDrAnswer:
    """A verified querydr answer. ``response_code`` is about the query itself (``91``: VNPay
    has no such transaction); ``transaction_status`` is about the payment."""

    response_code: str
    message: str
    txn_ref: str
    amount: int | None  # VND
    transaction_no: str
    transaction_status: str
    bank_code: str
    pay_date: datetime | None  # aware UTC
    transaction_type: str = ""  # 01 payment, 02 full refund, 03 partial refund

    @property
    def paid(self) -> bool:
        return self.response_code == "00" and self.transaction_status == "00"


@dataclass(frozen=True)
class RefundAnswer:
    """A verified refund answer. ``accepted`` means VNPay took the refund (``00``); ``94`` says a
    refund is already pending and ``95`` that the original payment did not succeed."""

    response_code: str
    message: str
    txn_ref: str
    amount: int | None  # VND
    transaction_no: str
    transaction_status: str

    @property
    def accepted(self) -> bool:
        return self.response_code == "00"


def _check_answer(
    config: VnpayConfig,
    answer: Mapping[str, object],
    *,
    command: str,
    txn_ref: str,
    order: Sequence[str],
) -> Rejected | dict[str, str]:
    if "vnp_SecureHash" not in answer:
        return Rejected(Rejection.MISSING_SIGNATURE, "answer carries no vnp_SecureHash")
    texts = {key: _text(value) for key, value in answer.items()}
    if any(key in texts and texts[key] is None for key in order):
        return Rejected(Rejection.MALFORMED, "answer fields are not strings or integers")
    if not _checksum_ok(config.hash_secret, answer, order):
        return Rejected(Rejection.BAD_SIGNATURE, "answer checksum does not match")
    values = {key: text or "" for key, text in texts.items()}
    if values.get("vnp_TmnCode") != config.tmn_code:
        return Rejected(Rejection.WRONG_MERCHANT, "answer is for another terminal")
    if values.get("vnp_Command") != command:
        return Rejected(Rejection.MISMATCH, f"answer is not for {command}")
    # Error answers (91 not found, 97 bad checksum...) may not echo the reference; an answer
    # that says anything about a transaction (00) is ours only if it names ours.
    echoed = values.get("vnp_TxnRef", "")
    if echoed != txn_ref and (echoed or values.get("vnp_ResponseCode") == "00"):
        return Rejected(Rejection.MISMATCH, "answer is about another transaction")
    return values


def _optional_amount(values: Mapping[str, str]) -> int | None:
    text = values.get("vnp_Amount", "")
    return from_wire_amount(text) if text else None


def parse_querydr_answer(
    config: VnpayConfig, answer: Mapping[str, object], *, txn_ref: str
) -> QueryDrAnswer | Rejected:
    checked = _check_answer(
        config, answer, command="querydr", txn_ref=txn_ref, order=QUERYDR_RESPONSE_ORDER
    )
    if isinstance(checked, Rejected):
        return checked
    try:
        pay_date = from_wire_date(checked["vnp_PayDate"]) if checked.get("vnp_PayDate") else None
        amount = _optional_amount(checked)
    except ValueError as exc:
        return Rejected(Rejection.MALFORMED, str(exc))
    return QueryDrAnswer(
        response_code=checked.get("vnp_ResponseCode", ""),
        message=checked.get("vnp_Message", ""),
        txn_ref=checked.get("vnp_TxnRef", ""),
        amount=amount,
        transaction_no=checked.get("vnp_TransactionNo", ""),
        transaction_status=checked.get("vnp_TransactionStatus", ""),
        bank_code=checked.get("vnp_BankCode", ""),
        pay_date=pay_date,
        transaction_type=checked.get("vnp_TransactionType", ""),
    )


def parse_refund_answer(
    config: VnpayConfig, answer: Mapping[str, object], *, txn_ref: str
) -> RefundAnswer | Rejected:
    checked = _check_answer(
        config, answer, command="refund", txn_ref=txn_ref, order=REFUND_RESPONSE_ORDER
    )
    if isinstance(checked, Rejected):
        return checked
    try:
        amount = _optional_amount(checked)
    except ValueError as exc:
        return Rejected(Rejection.MALFORMED, str(exc))
    return RefundAnswer(
        response_code=checked.get("vnp_ResponseCode", ""),
        message=checked.get("vnp_Message", ""),
        txn_ref=checked.get("vnp_TxnRef", ""),
        amount=amount,
        transaction_no=checked.get("vnp_TransactionNo", ""),
        transaction_status=checked.get("vnp_TransactionStatus", ""),
    )


# --- client -----------------------------------------------------------------------------------


class VnpayApiClient:
    """querydr and refund over a shared ``httpx.AsyncClient``; never raises httpx errors."""

    def __init__(
        self,
        config: VnpayConfig,
        http: httpx.AsyncClient,
        *,
        timeout_seconds: int = TIMEOUT_SECONDS,
    ) -> None:
        self._config = config
        self._http = http
        self._timeout_seconds = timeout_seconds

    async def querydr(
        self,
        *,
        txn_ref: str,
        order_info: str,
        transaction_date: datetime,
        now: datetime,
        ip_addr: str,
        request_id: str | None = None,
    ) -> QueryDrAnswer | Rejected | Unknown:
        body = querydr_body(
            self._config,
            request_id=request_id or new_request_id(),
            txn_ref=txn_ref,
            order_info=order_info,
            transaction_date=transaction_date,
            created_at=now,
            ip_addr=ip_addr,
        )
        answer = await post_json(
            self._http, self._config.api_url, body, timeout_seconds=self._timeout_seconds
        )
        if isinstance(answer, Unknown):
            return answer
        return parse_querydr_answer(self._config, answer, txn_ref=txn_ref)

    async def refund(
        self,
        *,
        txn_ref: str,
        amount: int,
        full: bool,
        transaction_no: str,
        transaction_date: datetime,
        created_by: str,
        order_info: str,
        now: datetime,
        ip_addr: str,
        request_id: str | None = None,
    ) -> RefundAnswer | Rejected | Unknown:
        body = refund_body(
            self._config,
            request_id=request_id or new_request_id(),
            txn_ref=txn_ref,
            amount=amount,
            full=full,
            transaction_no=transaction_no,
            transaction_date=transaction_date,
            created_by=created_by,
            created_at=now,
            ip_addr=ip_addr,
            order_info=order_info,
        )
        answer = await post_json(
            self._http, self._config.api_url, body, timeout_seconds=self._timeout_seconds
        )
        if isinstance(answer, Unknown):
            return answer
        return parse_refund_answer(self._config, answer, txn_ref=txn_ref)
