"""VNPay querydr and refund: checksums, answers and the client's typed outcomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from payments.providers.outcomes import Rejected, Rejection, Unknown
from payments.providers.signing import hmac_sha512_hex
from payments.providers.vnpay import api as vnpay_api
from tests.support.provider_configs import VNPAY_CONFIG

PAID_AT = datetime(2025, 1, 2, 17, 30, tzinfo=UTC)
NOW = datetime(2025, 1, 2, 18, 0, tzinfo=UTC)


def query_body() -> dict[str, str]:
    return vnpay_api.querydr_body(
        VNPAY_CONFIG,
        request_id="req1",
        txn_ref="PF1",
        order_info="Truy vấn",
        transaction_date=PAID_AT,
        created_at=NOW,
        ip_addr="203.0.113.7",
    )


def refund_body() -> dict[str, str]:
    return vnpay_api.refund_body(
        VNPAY_CONFIG,
        request_id="req2",
        txn_ref="PF1",
        amount=10_000,
        full=True,
        transaction_no="",
        transaction_date=PAID_AT,
        created_by="finance@agency",
        created_at=NOW,
        ip_addr="203.0.113.7",
        order_info="Hoàn tiền",
    )


def test_querydr_checksum_is_the_documented_pipe_string() -> None:
    data = "req1|2.1.0|querydr|DEMO0001|PF1|20250103003000|20250103010000|203.0.113.7|Truy van"
    body = query_body()
    assert body["vnp_SecureHash"] == hmac_sha512_hex(VNPAY_CONFIG.hash_secret, data)
    assert vnpay_api.verify_querydr_request(VNPAY_CONFIG, body)


def test_refund_checksum_is_the_documented_pipe_string() -> None:
    data = (
        "req2|2.1.0|refund|DEMO0001|02|PF1|1000000|0|20250103003000|finance@agency"
        "|20250103010000|203.0.113.7|Hoan tien"
    )
    body = refund_body()
    assert body["vnp_SecureHash"] == hmac_sha512_hex(VNPAY_CONFIG.hash_secret, data)
    assert vnpay_api.verify_refund_request(VNPAY_CONFIG, body)


@pytest.mark.parametrize("make", [query_body, refund_body])
def test_tampered_requests_fail_the_simulator_check(make: Callable[[], dict[str, str]]) -> None:
    body = make()
    verify = (
        vnpay_api.verify_querydr_request
        if body["vnp_Command"] == "querydr"
        else vnpay_api.verify_refund_request
    )
    for key in body:
        tampered = {**body, key: body[key] + "9"}
        assert not verify(VNPAY_CONFIG, tampered), key


def querydr_answer(**overrides: str) -> dict[str, str]:
    fields = {
        "vnp_ResponseId": "r1",
        "vnp_Command": "querydr",
        "vnp_ResponseCode": "00",
        "vnp_Message": "QueryDR Success",
        "vnp_TmnCode": VNPAY_CONFIG.tmn_code,
        "vnp_TxnRef": "PF1",
        "vnp_Amount": "1000000",
        "vnp_BankCode": "NCB",
        "vnp_PayDate": "20250103003000",
        "vnp_TransactionNo": "14400001",
        "vnp_TransactionType": "01",
        "vnp_TransactionStatus": "00",
        "vnp_OrderInfo": "Nop phi",
    }
    fields.update(overrides)
    return vnpay_api.sign_querydr_response(VNPAY_CONFIG, fields)


def refund_answer(**overrides: str) -> dict[str, str]:
    fields = {
        "vnp_ResponseId": "r2",
        "vnp_Command": "refund",
        "vnp_ResponseCode": "00",
        "vnp_Message": "Refund success",
        "vnp_TmnCode": VNPAY_CONFIG.tmn_code,
        "vnp_TxnRef": "PF1",
        "vnp_Amount": "1000000",
        "vnp_TransactionNo": "14400002",
        "vnp_TransactionType": "02",
        "vnp_TransactionStatus": "05",
    }
    fields.update(overrides)
    return vnpay_api.sign_refund_response(VNPAY_CONFIG, fields)


def test_querydr_answer_parses_to_typed_values() -> None:
    answer = vnpay_api.parse_querydr_answer(VNPAY_CONFIG, querydr_answer(), txn_ref="PF1")
    assert isinstance(answer, vnpay_api.QueryDrAnswer)
    assert (answer.amount, answer.paid, answer.pay_date) == (10_000, True, PAID_AT)


def test_numeric_json_values_hash_like_their_text() -> None:
    answer: dict[str, object] = dict(querydr_answer())
    answer["vnp_Amount"] = 1000000
    parsed = vnpay_api.parse_querydr_answer(VNPAY_CONFIG, answer, txn_ref="PF1")
    assert isinstance(parsed, vnpay_api.QueryDrAnswer)


@pytest.mark.parametrize("key", sorted(querydr_answer()))
def test_querydr_answer_tampering_is_rejected(key: str) -> None:
    answer = querydr_answer()
    answer[key] = answer[key] + "1"
    result = vnpay_api.parse_querydr_answer(VNPAY_CONFIG, answer, txn_ref="PF1")
    assert result == Rejected(Rejection.BAD_SIGNATURE, "answer checksum does not match")


def test_foreign_or_unsigned_answers_are_rejected() -> None:
    unsigned = querydr_answer()
    del unsigned["vnp_SecureHash"]
    cases = {
        Rejection.MISSING_SIGNATURE: (unsigned, "PF1"),
        Rejection.MISMATCH: (querydr_answer(), "PF2"),
        Rejection.WRONG_MERCHANT: (querydr_answer(vnp_TmnCode="OTHER001"), "PF1"),
        Rejection.MALFORMED: (querydr_answer(vnp_Amount="1000001"), "PF1"),
    }
    for reason, (answer, ref) in cases.items():
        result = vnpay_api.parse_querydr_answer(VNPAY_CONFIG, answer, txn_ref=ref)
        assert isinstance(result, Rejected)
        assert result.reason is reason
    wrong_command = vnpay_api.parse_refund_answer(
        VNPAY_CONFIG,
        vnpay_api.sign_refund_response(VNPAY_CONFIG, {**querydr_answer()}),
        txn_ref="PF1",
    )
    assert isinstance(wrong_command, Rejected)
    assert wrong_command.reason is Rejection.MISMATCH


def client_with(handler: Callable[[httpx.Request], httpx.Response]) -> vnpay_api.VnpayApiClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return vnpay_api.VnpayApiClient(VNPAY_CONFIG, http)


async def querydr(handler: Callable[[httpx.Request], httpx.Response]) -> object:
    return await client_with(handler).querydr(
        txn_ref="PF1",
        order_info="Truy van",
        transaction_date=PAID_AT,
        now=NOW,
        ip_addr="203.0.113.7",
    )


async def refund(handler: Callable[[httpx.Request], httpx.Response]) -> object:
    return await client_with(handler).refund(
        txn_ref="PF1",
        amount=10_000,
        full=True,
        transaction_no="14400001",
        transaction_date=PAID_AT,
        created_by="finance",
        order_info="Hoan tien",
        now=NOW,
        ip_addr="203.0.113.7",
    )


async def test_querydr_client_sends_a_verifiable_request_and_reads_the_answer() -> None:
    seen: list[dict[str, object]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == VNPAY_CONFIG.api_url
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=querydr_answer())

    answer = await querydr(provider)
    assert isinstance(answer, vnpay_api.QueryDrAnswer)
    assert answer.paid
    assert vnpay_api.verify_querydr_request(VNPAY_CONFIG, seen[0])


async def test_querydr_not_found_is_a_known_answer() -> None:
    answer = await querydr(
        lambda _: httpx.Response(200, json=querydr_answer(vnp_ResponseCode="91", vnp_TxnRef=""))
    )
    assert isinstance(answer, vnpay_api.QueryDrAnswer)
    assert (answer.response_code, answer.paid) == ("91", False)


async def test_a_paid_answer_that_names_no_transaction_is_not_ours() -> None:
    """Signed, but "00 paid" about no TxnRef: it could be about any transaction."""
    answer = await querydr(lambda _: httpx.Response(200, json=querydr_answer(vnp_TxnRef="")))
    assert isinstance(answer, Rejected)
    assert answer.reason is Rejection.MISMATCH


async def test_refund_client_outcomes() -> None:
    def provider(request: httpx.Request) -> httpx.Response:
        assert vnpay_api.verify_refund_request(VNPAY_CONFIG, json.loads(request.content))
        return httpx.Response(200, json=refund_answer())

    accepted = await refund(provider)
    assert isinstance(accepted, vnpay_api.RefundAnswer)
    assert accepted.accepted
    pending = await refund(lambda _: httpx.Response(200, json=refund_answer(vnp_ResponseCode="94")))
    assert isinstance(pending, vnpay_api.RefundAnswer)
    assert not pending.accepted


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (timeout, "timeout"),
        (refused, "transport error: ConnectError"),
        (lambda _: httpx.Response(503, text="busy"), "http 503"),
        (lambda _: httpx.Response(400, text="bad"), "http 400"),
        (lambda _: httpx.Response(200, text="<html>"), "response is not JSON"),
        (lambda _: httpx.Response(200, json=[1]), "response is not a JSON object"),
    ],
)
async def test_failures_are_unknown_not_exceptions(
    handler: Callable[[httpx.Request], httpx.Response], reason: str
) -> None:
    assert await querydr(handler) == Unknown(reason)
    assert await refund(handler) == Unknown(reason)


async def test_bad_checksum_answer_is_rejected() -> None:
    forged = {**querydr_answer(), "vnp_TransactionStatus": "00", "vnp_SecureHash": "ab" * 64}
    result = await querydr(lambda _: httpx.Response(200, json=forged))
    assert isinstance(result, Rejected)
    assert result.reason is Rejection.BAD_SIGNATURE
