"""MoMo v2: create signature, IPN verification, result-code classes, client outcomes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.errors import InvalidInput
from payments.providers.momo import api as momo_api
from payments.providers.momo import protocol as momo
from payments.providers.outcomes import Rejected, Rejection, Unknown
from tests.support.provider_configs import MOMO_CONFIG


def create() -> dict[str, object]:
    return momo.create_body(
        MOMO_CONFIG,
        request_id="req-1",
        order_id="PF7K2M9Q4X",
        amount=50_000,
        order_info="Nộp phí",
        redirect_url="https://pay.example.gov.vn/return/momo",
        ipn_url="https://pay.example.gov.vn/ipn/momo",
    )


def test_create_signature_is_the_documented_raw_string() -> None:
    raw = (
        "accessKey=klm05TvNBzhg7h7j&amount=50000&extraData=&ipnUrl=https://pay.example.gov.vn"
        "/ipn/momo&orderId=PF7K2M9Q4X&orderInfo=Nộp phí&partnerCode=MOMOBKUN20180529"
        "&redirectUrl=https://pay.example.gov.vn/return/momo&requestId=req-1"
        "&requestType=captureWallet"
    )
    body = create()
    expected = hmac.new(MOMO_CONFIG.secret_key.encode(), raw.encode(), hashlib.sha256).hexdigest()
    assert body["signature"] == expected
    assert "accessKey" not in body
    assert body["amount"] == 50_000
    assert momo.verify_create_request(MOMO_CONFIG, body)


@pytest.mark.parametrize(
    "key", ["amount", "extraData", "ipnUrl", "orderId", "orderInfo", "redirectUrl", "requestId"]
)
def test_simulator_rejects_a_tampered_create_request(key: str) -> None:
    body = create()
    body[key] = f"{body[key]}9"
    assert not momo.verify_create_request(MOMO_CONFIG, body)


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", 9_999), ("amount", 50_000_001), ("order_id", "bad id"), ("lang", "fr")],
)
def test_create_refuses_bad_input(field: str, value: object) -> None:
    args: dict[str, object] = {
        "request_id": "r",
        "order_id": "o",
        "amount": 10_000,
        "order_info": "x",
        "redirect_url": "https://a",
        "ipn_url": "https://b",
        field: value,
    }
    with pytest.raises(InvalidInput):
        momo.create_body(MOMO_CONFIG, **args)  # type: ignore[arg-type]


def ipn(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "partnerCode": MOMO_CONFIG.partner_code,
        "orderId": "PF7K2M9Q4X",
        "requestId": "req-1",
        "amount": 50_000,
        "orderInfo": "Nộp phí",
        "orderType": "momo_wallet",
        "transId": 4088878653,
        "resultCode": 0,
        "message": "Thành công.",
        "payType": "qr",
        "responseTime": 1735839000123,
        "extraData": "",
    }
    fields.update(overrides)
    return momo.sign_ipn(MOMO_CONFIG, fields)


def test_ipn_verifies_and_parses() -> None:
    result = momo.verify_ipn(MOMO_CONFIG, ipn())
    assert isinstance(result, momo.MomoIpn)
    assert (result.amount, result.trans_id, result.status) == (50_000, 4088878653, "succeeded")
    assert result.response_time == datetime(2025, 1, 2, 17, 30, 0, 123000, tzinfo=UTC)


def test_ipn_from_a_redirect_query_with_digit_strings_verifies() -> None:
    as_query = {key: str(value) for key, value in ipn().items()}
    assert isinstance(momo.verify_ipn(MOMO_CONFIG, as_query), momo.MomoIpn)


@pytest.mark.parametrize("key", sorted(k for k in ipn() if k != "partnerCode"))
def test_ipn_tampering_is_rejected(key: str) -> None:
    body = ipn()
    body[key] = f"{body[key]}1"
    result = momo.verify_ipn(MOMO_CONFIG, body)
    assert result == Rejected(Rejection.BAD_SIGNATURE, "signature does not match")


def test_ipn_rejections_are_told_apart() -> None:
    other = momo.MomoConfig(
        "OTHER", MOMO_CONFIG.access_key, MOMO_CONFIG.secret_key, MOMO_CONFIG.api_url
    )
    unsigned = ipn()
    del unsigned["signature"]
    cases = {
        Rejection.MISSING_SIGNATURE: momo.verify_ipn(MOMO_CONFIG, unsigned),
        Rejection.WRONG_MERCHANT: momo.verify_ipn(
            MOMO_CONFIG, momo.sign_ipn(MOMO_CONFIG, ipn(partnerCode="X"))
        ),
        Rejection.BAD_SIGNATURE: momo.verify_ipn(MOMO_CONFIG, {**ipn(), "amount": [1]}),
        Rejection.MALFORMED: momo.verify_ipn(MOMO_CONFIG, ipn(amount="lots")),
    }
    for reason, result in cases.items():
        assert isinstance(result, Rejected), reason
        assert result.reason is reason
    assert isinstance(momo.verify_ipn(other, ipn()), Rejected)


@given(
    key=st.sampled_from(["orderId", "requestId", "orderInfo", "message", "payType", "extraData"]),
    extra=st.text(min_size=1),
)
def test_any_appended_text_fails_ipn_verification(key: str, extra: str) -> None:
    body = ipn()
    body[key] = f"{body[key]}{extra}"
    assert isinstance(momo.verify_ipn(MOMO_CONFIG, body), Rejected)


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, "succeeded"), (9000, "succeeded"), (1000, "pending"), (7000, "pending"),
     (7002, "pending"), (8000, "pending"), (1006, "failed"), (49, "failed"), (13, "failed")],
)  # fmt: skip
def test_result_codes_are_classified(code: int, status: str) -> None:
    assert momo.classify_result(code) == status


def test_query_and_refund_signatures_verify_on_the_simulator_side() -> None:
    query = momo_api.query_body(MOMO_CONFIG, request_id="q1", order_id="PF1")
    refund = momo_api.refund_body(
        MOMO_CONFIG, request_id="r1", refund_order_id="RF1", amount=20_000, trans_id=4088878653
    )
    assert momo.verify_query_request(MOMO_CONFIG, query)
    assert momo.verify_refund_request(MOMO_CONFIG, refund)
    assert not momo.verify_query_request(MOMO_CONFIG, {**query, "orderId": "PF2"})
    assert not momo.verify_refund_request(MOMO_CONFIG, {**refund, "amount": 20_001})


def client_with(handler: Callable[[httpx.Request], httpx.Response]) -> momo_api.MomoClient:
    return momo_api.MomoClient(
        MOMO_CONFIG, httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )


async def call_create(handler: Callable[[httpx.Request], httpx.Response]) -> object:
    return await client_with(handler).create(
        request_id="req-1",
        order_id="PF1",
        amount=50_000,
        order_info="Nop phi",
        redirect_url="https://a.example",
        ipn_url="https://b.example",
    )


async def test_create_client_returns_the_pay_url() -> None:
    def provider(request: httpx.Request) -> httpx.Response:
        assert request.url.path == momo_api.CREATE_PATH
        assert momo.verify_create_request(MOMO_CONFIG, json.loads(request.content))
        return httpx.Response(
            200,
            json={"partnerCode": MOMO_CONFIG.partner_code, "orderId": "PF1", "requestId": "req-1",
                  "resultCode": 0, "message": "ok", "payUrl": "https://test-payment.momo.vn/p"},
        )  # fmt: skip

    answer = await call_create(provider)
    assert answer == momo_api.CreateAnswer(0, "ok", "https://test-payment.momo.vn/p")


async def test_create_client_provider_error_is_a_known_answer() -> None:
    answer = await call_create(
        lambda _: httpx.Response(200, json={"resultCode": 41, "message": "duplicate orderId"})
    )
    assert isinstance(answer, momo_api.CreateAnswer)
    assert not answer.accepted


async def test_create_answer_for_another_order_is_rejected() -> None:
    ours = {"partnerCode": MOMO_CONFIG.partner_code, "requestId": "req-1"}
    answer = await call_create(
        lambda _: httpx.Response(
            200, json={**ours, "orderId": "PF9", "resultCode": 0, "payUrl": "x"}
        )
    )
    assert isinstance(answer, Rejected)
    assert answer.reason is Rejection.MISMATCH


@pytest.mark.parametrize("left_out", ["partnerCode", "orderId", "requestId"])
async def test_an_answer_about_the_order_must_echo_our_request(left_out: str) -> None:
    """MoMo signs no answer: a success that does not echo all of partner, order and request
    could be about anything, and is not taken as ours."""
    ours = {"partnerCode": MOMO_CONFIG.partner_code, "orderId": "PF1", "requestId": "q1"}
    body = {key: value for key, value in ours.items() if key != left_out}
    client = client_with(
        lambda _: httpx.Response(200, json={**body, "resultCode": 0, "amount": 50_000})
    )
    query = await client.query(request_id="q1", order_id="PF1")
    assert isinstance(query, Rejected)
    assert f"does not echo {left_out}" in query.detail
    # A request MoMo declined may leave the echo out: it is about nothing.
    declined = client_with(lambda _: httpx.Response(200, json={"resultCode": 13, "message": "x"}))
    assert isinstance(await declined.query(request_id="q1", order_id="PF1"), Unknown)


async def test_query_and_refund_clients() -> None:
    def provider(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == momo_api.QUERY_PATH:
            assert momo.verify_query_request(MOMO_CONFIG, body)
            return httpx.Response(200, json={"partnerCode": MOMO_CONFIG.partner_code,
                                             "orderId": "PF1", "requestId": "q1",
                                             "resultCode": 1000, "amount": 50_000})  # fmt: skip
        assert momo.verify_refund_request(MOMO_CONFIG, body)
        return httpx.Response(200, json={"partnerCode": MOMO_CONFIG.partner_code, "orderId": "RF1",
                                         "requestId": "r1", "resultCode": 0,
                                         "amount": 20_000, "transId": 77})  # fmt: skip

    client = client_with(provider)
    query = await client.query(request_id="q1", order_id="PF1")
    assert isinstance(query, momo_api.QueryAnswer)
    assert (query.status, query.amount) == ("pending", 50_000)
    refund = await client.refund(
        request_id="r1", refund_order_id="RF1", amount=20_000, trans_id=4088878653
    )
    assert refund == momo_api.RefundAnswer(0, "", 20_000, 77)


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("slow", request=request)


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (timeout, Unknown("timeout")),
        (lambda _: httpx.Response(502), Unknown("http 502")),
        (lambda _: httpx.Response(200, content=b"{not json"), Unknown("response is not JSON")),
        (
            lambda _: httpx.Response(200, content=b'{"resultCode": 0, "resultCode": 1006}'),
            Unknown(
                "response is not one JSON reading: the key 'resultCode' appears twice in one object"
            ),
        ),
        (
            lambda _: httpx.Response(200, json={"resultCode": "zero"}),
            Rejected(Rejection.MALFORMED, "resultCode is missing or not a number"),
        ),
    ],
)
async def test_client_failures_are_typed(
    handler: Callable[[httpx.Request], httpx.Response], expected: object
) -> None:
    client = client_with(handler)
    assert await call_create(handler) == expected
    assert await client.query(request_id="q1", order_id="PF1") == expected
    refund = await client.refund(request_id="r1", refund_order_id="RF1", amount=1, trans_id=1)
    assert refund == expected
