"""Our VNPay codec against the npm package ``vnpay`` (an independent TypeScript implementation).

Signatures go both ways: what we sign, the package verifies; what the package signs, we verify.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from payments.providers.vnpay import api as vnpay_api
from payments.providers.vnpay import protocol as vnpay
from tests.interop.conftest import NpmVnpay

CONFIG = vnpay.VnpayConfig(
    tmn_code="DEMO0001",
    hash_secret="SECRETSECRETSECRETSECRETSECRET12",
    pay_url="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    api_url="https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
)
NPM_CONFIG = {"tmnCode": CONFIG.tmn_code, "secureSecret": CONFIG.hash_secret}
CREATED = datetime(2025, 1, 2, 17, 30, 0, tzinfo=UTC)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_our_pay_url_verifies_in_the_npm_package(npm_vnpay: NpmVnpay) -> None:
    url = vnpay.build_pay_url(
        CONFIG,
        txn_ref="PF7K2M9Q4X-1",
        amount=1_250_000,
        currency="VND",
        order_info="Nộp phí đăng ký hộ kinh doanh (hồ sơ 000.00.12.H29-250102-0001) *khẩn*",
        return_url="https://pay.example.gov.vn/return/vnpay?lang=vi&p=pay_01J0",
        ip_addr="2001:db8::7",
        created_at=CREATED,
        expires_at=CREATED + timedelta(minutes=15),
        bank_code="NCB",
    )
    answer = npm_vnpay({"op": "verify", "config": NPM_CONFIG, "query": query_of(url)})
    assert answer == {"returnVerified": True, "ipnVerified": True, "amount": 1_250_000}

    tampered = {**query_of(url), "vnp_Amount": "100"}
    answer = npm_vnpay({"op": "verify", "config": NPM_CONFIG, "query": tampered})
    assert answer["returnVerified"] is False


def test_npm_pay_url_verifies_in_ours(npm_vnpay: NpmVnpay) -> None:
    answer = npm_vnpay(
        {
            "op": "buildPayUrl",
            "config": NPM_CONFIG,
            "data": {
                "vnp_Amount": 10_000,
                "vnp_IpAddr": "203.0.113.7",
                "vnp_ReturnUrl": "https://pay.example.gov.vn/return/vnpay",
                "vnp_TxnRef": "PF1",
                "vnp_OrderInfo": "Thanh toán lệ phí trước bạ",
                "vnp_CreateDate": 20250103003000,
            },
        }
    )
    params = query_of(answer["url"])
    assert vnpay.signature_is_valid(CONFIG.hash_secret, params)
    assert not vnpay.signature_is_valid(CONFIG.hash_secret, {**params, "vnp_TxnRef": "PF2"})


def test_ipn_signed_by_npm_is_accepted_by_verify_callback(npm_vnpay: NpmVnpay) -> None:
    params = {
        "vnp_TmnCode": CONFIG.tmn_code,
        "vnp_Amount": "125000000",
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "",  # the npm signer leaves empty values out; VNPay may still send it
        "vnp_CardType": "ATM",
        "vnp_PayDate": "20250103003000",
        "vnp_OrderInfo": "Nộp phí hồ sơ: 000.00.12 & lệ phí",
        "vnp_TransactionNo": "14400001",
        "vnp_ResponseCode": "00",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": "PF7K2M9Q4X-1",
    }
    signed = npm_vnpay({"op": "sign", "secret": CONFIG.hash_secret, "params": params})
    result = vnpay.verify_callback(CONFIG, signed)
    assert isinstance(result, vnpay.VnpayCallback)
    assert (result.amount, result.paid, result.pay_date) == (1_250_000, True, CREATED)
    assert not isinstance(
        vnpay.verify_callback(CONFIG, {**signed, "vnp_ResponseCode": "24"}), vnpay.VnpayCallback
    )


def test_callback_signed_by_our_simulator_verifies_in_npm(npm_vnpay: NpmVnpay) -> None:
    params = vnpay.callback_params(
        CONFIG,
        txn_ref="PF7K2M9Q4X-1",
        amount=10_000,
        response_code="24",
        transaction_status="02",
        transaction_no="0",
        bank_code="NCB",
        order_info="Nop phi ho so 123",
        pay_date=CREATED,
    )
    answer = npm_vnpay({"op": "verify", "config": NPM_CONFIG, "query": params})
    assert answer == {"returnVerified": True, "ipnVerified": True, "amount": 10_000}


def test_npm_querydr_request_verifies_and_our_signed_answer_verifies_in_npm(
    npm_vnpay: NpmVnpay,
) -> None:
    answer = vnpay_api.sign_querydr_response(
        CONFIG,
        {
            "vnp_ResponseId": "r1",
            "vnp_Command": "querydr",
            "vnp_ResponseCode": "00",
            "vnp_Message": "QueryDR Success",
            "vnp_TmnCode": CONFIG.tmn_code,
            "vnp_TxnRef": "PF1",
            "vnp_Amount": "1000000",
            "vnp_BankCode": "NCB",
            "vnp_PayDate": "20250103003000",
            "vnp_TransactionNo": "14400001",
            "vnp_TransactionType": "01",
            "vnp_TransactionStatus": "00",
            "vnp_OrderInfo": "Nop phi",
        },
    )
    result = npm_vnpay(
        {
            "op": "querydr",
            "config": NPM_CONFIG,
            "answer": answer,
            "query": {
                "vnp_RequestId": "req1",
                "vnp_IpAddr": "203.0.113.7",
                "vnp_TxnRef": "PF1",
                "vnp_OrderInfo": "Truy van PF1",
                "vnp_TransactionDate": 20250103003000,
                "vnp_CreateDate": 20250103010000,
            },
        }
    )
    assert vnpay_api.verify_querydr_request(CONFIG, result["sent"])
    assert (result["isVerified"], result["isSuccess"]) == (True, True)


def test_npm_refund_request_verifies_in_our_simulator(npm_vnpay: NpmVnpay) -> None:
    # vnpay@2.5.0 divides vnp_Amount by 100 before checking the answer's checksum, so it can
    # only verify an answer without an amount; the request direction is the one that matters.
    answer = vnpay_api.sign_refund_response(
        CONFIG,
        {
            "vnp_ResponseId": "r2",
            "vnp_Command": "refund",
            "vnp_ResponseCode": "00",
            "vnp_Message": "Refund success",
            "vnp_TmnCode": CONFIG.tmn_code,
            "vnp_TxnRef": "PF1",
            "vnp_TransactionNo": "14400002",
            "vnp_TransactionType": "02",
            "vnp_TransactionStatus": "05",
        },
    )
    result = npm_vnpay(
        {
            "op": "refund",
            "config": NPM_CONFIG,
            "answer": answer,
            "refund": {
                "vnp_Amount": 10_000,
                "vnp_CreateBy": "finance@agency",
                "vnp_CreateDate": 20250103010000,
                "vnp_IpAddr": "203.0.113.7",
                "vnp_OrderInfo": "Hoan tien PF1",
                "vnp_RequestId": "req2",
                "vnp_TransactionDate": 20250103003000,
                "vnp_TransactionType": "02",
                # Sent explicitly: when it is left out, vnpay@2.5.0 signs "0" but omits the field.
                "vnp_TransactionNo": "14400001",
                "vnp_TxnRef": "PF1",
            },
        }
    )
    sent = result["sent"]
    assert vnpay_api.verify_refund_request(CONFIG, sent)
    assert sent["vnp_Amount"] == 1_000_000
    assert result["isVerified"] is True
