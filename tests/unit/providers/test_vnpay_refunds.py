"""VNPay refund and refund-status answers mapped to refund outcomes (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from payments.domain.attempts import Provider
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundPending,
    RefundStatus,
    RefundSucceeded,
    RefundUnknown,
)
from payments.providers.vnpay import api as vnpay_api
from payments.providers.vnpay import protocol as vnpay
from payments.providers.vnpay.provider import VnpayProvider
from tests.support.provider_configs import VNPAY_CONFIG
from tests.unit.providers.refund_fixtures import ASKED_AT, paid, refund

REQUEST = refund(paid(Provider.VNPAY))
Handler = Callable[[httpx.Request], httpx.Response]


def provider(handler: Handler) -> VnpayProvider:
    return VnpayProvider(VNPAY_CONFIG, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def answering(code: str, status: str = "06", *, amount: int = 50_000, **extra: str) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        fields = {
            "vnp_ResponseId": "r1",
            "vnp_Command": body["vnp_Command"],
            "vnp_ResponseCode": code,
            "vnp_Message": "m",
            "vnp_TmnCode": VNPAY_CONFIG.tmn_code,
            "vnp_TxnRef": body["vnp_TxnRef"],
            "vnp_Amount": vnpay.to_wire_amount(amount),
            "vnp_TransactionNo": "15000001",
            "vnp_TransactionType": body.get("vnp_TransactionType", "03"),
            "vnp_TransactionStatus": status,
            **extra,
        }
        if body["vnp_Command"] == "refund":
            return httpx.Response(200, json=vnpay_api.sign_refund_response(VNPAY_CONFIG, fields))
        return httpx.Response(200, json=vnpay_api.sign_querydr_response(VNPAY_CONFIG, fields))

    return handle


async def test_the_refund_request_carries_the_stable_id_date_and_partial_type() -> None:
    seen: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return answering("00")(request)

    for _ in range(2):
        await provider(handle).refund(REQUEST, now=ASKED_AT)
    assert seen[0] == seen[1]  # a retry is byte for byte the same request
    assert seen[0]["vnp_RequestId"] == "rf_1"
    assert seen[0]["vnp_TransactionType"] == "03"
    assert seen[0]["vnp_CreateDate"] == vnpay.to_wire_date(ASKED_AT)
    assert seen[0]["vnp_TransactionNo"] == "14000123"
    assert vnpay_api.verify_refund_request(VNPAY_CONFIG, seen[0])


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (answering("00"), RefundSucceeded(50_000, "15000001", "00/06")),
        (answering("00", "05"), RefundPending("00/05", "m")),
        (answering("94", ""), RefundPending("94", "m")),
        (answering("95", ""), RefundFailed("95", "m")),
        (answering("93", ""), RefundFailed("93", "m")),
        (answering("97", ""), RefundFailed("97", "m")),
        # 99 "other error", or a code VNPay does not document: not a refusal we can be sure of.
        (answering("99", ""), RefundUnknown("refund answered 99: m")),
        (answering("42", ""), RefundUnknown("refund answered 42: m")),
    ],
)
async def test_refund_answers(handler: Handler, expected: RefundStatus) -> None:
    assert await provider(handler).refund(REQUEST, now=ASKED_AT) == expected


async def test_a_confirmed_amount_that_differs_is_not_a_success() -> None:
    outcome = await provider(answering("00", amount=60_000)).refund(REQUEST, now=ASKED_AT)
    assert isinstance(outcome, RefundUnknown)


def _raise_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (_raise_timeout, "timeout"),
        (lambda request: httpx.Response(503), "http 503"),
        (lambda request: httpx.Response(200, content=b"<html>"), "response is not JSON"),
    ],
)
async def test_no_usable_answer_is_unknown(handler: Handler, reason: str) -> None:
    assert await provider(handler).refund(REQUEST, now=ASKED_AT) == RefundUnknown(reason)


async def test_an_unsigned_or_forged_answer_is_unknown() -> None:
    def forged(request: httpx.Request) -> httpx.Response:
        answer = json.loads(answering("00")(request).content)
        answer["vnp_Amount"] = "1"
        return httpx.Response(200, json=answer)

    outcome = await provider(forged).refund(REQUEST, now=ASKED_AT)
    assert isinstance(outcome, RefundUnknown)
    assert "bad_signature" in outcome.reason


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (answering("00", "06"), RefundSucceeded(50_000, "15000001", "00/06")),
        (answering("00", "05"), RefundPending("00/05", "m")),
        (answering("00", "09"), RefundFailed("00/09", "m")),
        (answering("91", ""), RefundNotFound("VNPay does not know the paid transaction")),
        (
            answering("00", "00", vnp_TransactionType="01"),
            RefundNotFound("VNPay has no refund created at the refund's date"),
        ),
        (answering("99", ""), RefundUnknown("querydr answered 99")),
        (_raise_timeout, RefundUnknown("timeout")),
    ],
)
async def test_refund_status_answers(handler: Handler, expected: RefundStatus) -> None:
    assert await provider(handler).refund_status(REQUEST, now=ASKED_AT) == expected


async def test_the_status_query_asks_about_the_refunds_own_date() -> None:
    seen: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return answering("00")(request)

    await provider(handle).refund_status(REQUEST, now=ASKED_AT)
    assert seen[0]["vnp_Command"] == "querydr"
    assert seen[0]["vnp_TxnRef"] == REQUEST.attempt.provider_ref
    assert seen[0]["vnp_TransactionDate"] == vnpay.to_wire_date(ASKED_AT)
