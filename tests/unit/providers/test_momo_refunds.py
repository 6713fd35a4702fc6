"""MoMo refund and refund-status answers mapped to refund outcomes (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from payments.domain.attempts import Provider
from payments.providers.momo.provider import MomoProvider
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundPending,
    RefundStatus,
    RefundSucceeded,
    RefundUnknown,
)
from tests.support.provider_configs import MOMO_CONFIG
from tests.unit.providers.refund_fixtures import ASKED_AT, paid, refund

REQUEST = refund(paid(Provider.MOMO, txn_id="3000000001"))
Handler = Callable[[httpx.Request], httpx.Response]


def provider(handler: Handler) -> MomoProvider:
    return MomoProvider(MOMO_CONFIG, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def answering(code: int, *, amount: int = 50_000, **extra: object) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        echo = {key: body[key] for key in ("partnerCode", "orderId", "requestId")}
        return httpx.Response(
            200,
            json={**echo, "resultCode": code, "message": "m", "amount": amount, "transId": 7}
            | extra,
        )

    return handle


async def test_the_refund_is_its_own_order_named_by_the_stable_request_id() -> None:
    seen: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return answering(0)(request)

    await provider(handle).refund(REQUEST, now=ASKED_AT)
    assert seen[0]["orderId"] == seen[0]["requestId"] == "rf_1"
    assert seen[0]["transId"] == 3_000_000_001
    assert seen[0]["amount"] == 50_000


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (answering(0), RefundSucceeded(50_000, "7", "0")),
        (answering(7000), RefundPending("7000", "m")),
        (answering(1081), RefundFailed("1081", "m")),
        (answering(41), RefundUnknown("MoMo saw this refund before (41): ask its status")),
        (answering(13), RefundFailed("13", "m")),  # refused outright: nothing was refunded
        # 99 "unknown error", or a code MoMo does not document, is no certain refusal.
        (answering(99), RefundUnknown("MoMo answered 99 (m): ask its status")),
        (answering(1234), RefundUnknown("MoMo answered 1234 (m): ask its status")),
        (answering(0, amount=1), RefundUnknown("MoMo confirms 1 VND, we asked 50000")),
        (answering(0, orderId="other"), None),
        (lambda request: httpx.Response(502), RefundUnknown("http 502")),
    ],
)
async def test_refund_answers(handler: Handler, expected: RefundStatus | None) -> None:
    outcome = await provider(handler).refund(REQUEST, now=ASKED_AT)
    if expected is None:  # an answer about another order cannot settle ours
        assert isinstance(outcome, RefundUnknown)
        assert "mismatch" in outcome.reason
    else:
        assert outcome == expected


async def test_a_payment_without_a_momo_trans_id_is_not_sent() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    request = refund(paid(Provider.MOMO, txn_id=""))
    outcome = await provider(never).refund(request, now=ASKED_AT)
    assert isinstance(outcome, RefundFailed)
    assert outcome.code == "not_sent"


def listed(*refunds: dict[str, object]) -> Handler:
    return answering(0, amount=150_000, refundTrans=list(refunds))


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (
            listed({"orderId": "rf_1", "amount": 50_000, "resultCode": 0, "transId": 9}),
            RefundSucceeded(50_000, "9", "0"),
        ),
        (
            listed({"orderId": "rf_1", "amount": 50_000, "resultCode": 7000, "transId": 9}),
            RefundPending("7000", "processing"),
        ),
        (
            listed({"orderId": "rf_1", "amount": 50_000, "resultCode": 1080, "transId": 9}),
            RefundFailed("1080", ""),
        ),
        (
            listed({"orderId": "rf_2", "amount": 50_000, "resultCode": 0, "transId": 9}),
            RefundNotFound("the paid order lists no refund with this request id"),
        ),
        (listed(), RefundNotFound("the paid order lists no refund with this request id")),
    ],
)
async def test_refund_status_reads_refund_trans(handler: Handler, expected: RefundStatus) -> None:
    assert await provider(handler).refund_status(REQUEST, now=ASKED_AT) == expected


async def test_a_malformed_refund_list_is_unknown() -> None:
    handler = answering(0, refundTrans={"orderId": "rf_1"})
    outcome = await provider(handler).refund_status(REQUEST, now=ASKED_AT)
    assert isinstance(outcome, RefundUnknown)
    assert "malformed" in outcome.reason
