"""Independent implementations against our HTTP endpoints, not just our codecs: an IPN that the
npm package ``vnpay`` signs moves a real payment, and the payload our VietQR page shows passes
the PyPI package ``vietqr-emvco``."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from vietqr_emvco import VietQRParser

from payments.providers.vnpay import protocol as vnpay
from payments.settings import Settings
from tests.interop.conftest import NpmVnpay
from tests.support.api import BASE_URL, Portal, api_client, payment_body

SANDBOX = Settings(sandbox=True, base_url=BASE_URL)
AMOUNT = 150_000
PAYLOAD = re.compile(r'<textarea id="payload"[^>]*>(.*?)</textarea>', re.DOTALL)


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, sandbox=True) as http:
        yield http


async def start(http: httpx.AsyncClient, portal: Portal, provider: str) -> tuple[str, str]:
    """Create a payment and pick ``provider`` on its checkout page: (payment id, Location)."""
    created = await http.post(
        "/v1/payments",
        json=payment_body(amount=AMOUNT),
        headers={**portal.auth(), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    chosen = await http.post(
        urlsplit(payment["checkout_url"]).path,
        data={"provider": provider},
        headers={"Origin": BASE_URL},
    )
    assert chosen.status_code == 303, chosen.text
    return payment["id"], chosen.headers["location"]


async def status(http: httpx.AsyncClient, portal: Portal, payment_id: str) -> str:
    value: str = (await http.get(f"/v1/payments/{payment_id}", headers=portal.auth())).json()[
        "status"
    ]
    return value


async def test_ipn_signed_by_npm_vnpay_is_applied_by_our_endpoint(
    sandbox: httpx.AsyncClient, portal: Portal, npm_vnpay: NpmVnpay
) -> None:
    payment_id, pay_url = await start(sandbox, portal, "vnpay")
    txn_ref = dict(parse_qsl(urlsplit(pay_url).query))["vnp_TxnRef"]
    params = {
        "vnp_TmnCode": SANDBOX.vnpay.tmn_code,
        "vnp_Amount": vnpay.to_wire_amount(AMOUNT),
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14400001",
        "vnp_CardType": "ATM",
        "vnp_PayDate": "20250103003000",
        "vnp_OrderInfo": "Thanh toán lệ phí: hồ sơ 000.00.12 & phí",
        "vnp_TransactionNo": "14400001",
        "vnp_ResponseCode": "00",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": txn_ref,
    }
    signed = npm_vnpay({"op": "sign", "secret": SANDBOX.vnpay.hash_secret, "params": params})

    async def ipn(query: dict[str, str]) -> str:
        answer = await sandbox.get("/callbacks/vnpay/ipn", params=query)
        assert answer.status_code == 200
        code: str = answer.json()["RspCode"]
        return code

    assert await ipn({**signed, "vnp_Amount": "100"}) == "97"  # their signature, our check
    assert await status(sandbox, portal, payment_id) == "pending"
    assert await ipn(signed) == "00"
    assert await status(sandbox, portal, payment_id) == "succeeded"
    assert await ipn(signed) == "02"  # VNPay's retry: already confirmed


async def test_vietqr_page_payload_passes_vietqr_emvco(
    sandbox: httpx.AsyncClient, portal: Portal
) -> None:
    _, qr_page_url = await start(sandbox, portal, "vietqr")
    qr_page = await sandbox.get(urlsplit(qr_page_url).path)
    assert qr_page.status_code == 200
    found = PAYLOAD.search(qr_page.text)
    assert found is not None
    payload = html.unescape(found.group(1)).strip()
    assert VietQRParser.verify_checksum(payload)
    parsed = VietQRParser.parse(payload)
    assert parsed["raw_tags"]["54"] == str(AMOUNT)
    assert (parsed["bank_bin"], parsed["account_number"]) == (
        SANDBOX.vietqr.bank_bin,
        SANDBOX.vietqr.account_no,
    )
    # the reference the payer must type is the one inside the QR, and it is shown on the page
    assert re.fullmatch(r"PF[0-9A-Z]{10}", parsed["memo"])
    assert f"<strong>{parsed['memo']}</strong>" in qr_page.text
