"""VNPay end to end over HTTP: checkout page, provider choice, sandbox payment, IPN, ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from payments.domain.attempts import Provider
from payments.entrypoints.web.i18n import TEXTS
from payments.ledger import chart
from payments.providers.vnpay import protocol as vnpay
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, api_client, uow_for
from tests.support.checkout_flows import (
    choose_vnpay,
    come_back,
    create,
    ledger_nets,
    path_of,
    pay_vnpay,
    status,
)

SANDBOX = Settings(sandbox=True, base_url=BASE_URL).vnpay
# Babel keeps amount and sign together with a no-break space, as Vietnamese typography wants.
AMOUNT_TEXT = "150.000\N{NO-BREAK SPACE}₫"
CONFIG = vnpay.VnpayConfig(SANDBOX.tmn_code, SANDBOX.hash_secret, SANDBOX.pay_url, SANDBOX.api_url)


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, sandbox=True) as http:
        yield http


async def test_checkout_page_in_vietnamese_and_english(
    sandbox: httpx.AsyncClient, portal: Portal
) -> None:
    payment = await create(sandbox, portal)
    path = path_of(payment["checkout_url"])
    vi = await sandbox.get(path)
    assert vi.status_code == 200
    assert AMOUNT_TEXT in vi.text
    assert "Số tiền" in vi.text
    assert "Nguyễn Văn A" in vi.text
    assert 'name="viewport"' in vi.text
    assert '<html lang="vi">' in vi.text
    assert vi.headers["referrer-policy"] == "same-origin"
    en = await sandbox.get(path, params={"lang": "en"})
    assert "Amount" in en.text
    assert AMOUNT_TEXT in en.text
    by_header = await sandbox.get(path, headers={"Accept-Language": "en-US,en;q=0.9,vi;q=0.5"})
    assert '<html lang="en">' in by_header.text
    missing = await sandbox.get("/checkout/not-a-token")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


async def test_vnpay_success_end_to_end(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    pay_url = await choose_vnpay(sandbox, payment)
    assert await status(sandbox, portal, payment["id"]) == "pending"
    return_url = await pay_vnpay(sandbox, pay_url, "success")
    assert return_url.startswith(f"{BASE_URL}/checkout/return/vnpay/vi?")
    result = await come_back(sandbox, payment, return_url)
    assert TEXTS["vi"]["paid_note"] in result.text
    assert f"https://portal.example.vn/return?payment_id={payment['id']}" in result.text
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    nets = await ledger_nets(database_url)
    assert nets[chart.provider_clearing("vnpay").code] == 150_000
    assert nets[chart.budget_payable(portal.code, "2662").code] == -150_000
    assert sum(nets.values()) == 0
    # reopened later, the link shows the paid state, never the form or the deadline
    again = await sandbox.get(path_of(payment["checkout_url"]))
    assert TEXTS["vi"]["paid_note"] in again.text
    assert "<form" not in again.text
    assert TEXTS["vi"]["expires"] not in again.text


@pytest.mark.parametrize(("outcome", "code"), [("failure", "51"), ("cancel", "24")])
async def test_vnpay_failure_and_cancel(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str, outcome: str, code: str
) -> None:
    payment = await create(sandbox, portal)
    return_url = await pay_vnpay(sandbox, await choose_vnpay(sandbox, payment), outcome)
    assert f"vnp_ResponseCode={code}" in return_url
    result = await come_back(sandbox, payment, return_url)
    assert vnpay.PAYER_REASONS[code].vi in result.text
    assert TEXTS["vi"]["still_payable"] in result.text
    assert await status(sandbox, portal, payment["id"]) == "failed"
    assert chart.provider_clearing("vnpay").code not in await ledger_nets(database_url)
    # the citizen may try again
    assert (await choose_vnpay(sandbox, payment)).startswith(BASE_URL)


async def test_duplicate_ipn_posts_once(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    await pay_vnpay(sandbox, await choose_vnpay(sandbox, payment), "success", duplicate_ipn="1")
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    assert (await ledger_nets(database_url))[chart.provider_clearing("vnpay").code] == 150_000


def signed(txn_ref: str, amount: int, response_code: str = "00") -> dict[str, str]:
    return vnpay.callback_params(
        CONFIG,
        txn_ref=txn_ref,
        amount=amount,
        response_code=response_code,
        transaction_status="00" if response_code == "00" else "02",
        transaction_no="14000042",
        bank_code="NCB",
        order_info="Thanh toan",
        pay_date=datetime.now(UTC),
    )


async def test_every_ipn_answer_code(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    pay_url = await choose_vnpay(sandbox, payment)
    txn_ref = dict(parse_qsl(urlsplit(pay_url).query))["vnp_TxnRef"]

    async def ipn(params: dict[str, str]) -> str:
        answer = await sandbox.get("/callbacks/vnpay/ipn", params=params)
        assert answer.status_code == 200
        code: str = answer.json()["RspCode"]
        return code

    tampered = {**signed(txn_ref, 150_000), "vnp_Amount": "100"}
    assert await ipn(tampered) == "97"
    assert (
        await ipn({k: v for k, v in signed(txn_ref, 150_000).items() if k != "vnp_SecureHash"})
        == "97"
    )
    assert await ipn(signed("att_unknown", 150_000)) == "01"
    assert await ipn(signed(txn_ref, 1_000)) == "04"
    malformed = vnpay.sign_params(CONFIG, {"vnp_TmnCode": CONFIG.tmn_code, "vnp_TxnRef": txn_ref})
    assert await ipn(malformed) == "99"
    assert await status(sandbox, portal, payment["id"]) == "pending"
    assert await ipn(signed(txn_ref, 150_000)) == "00"
    assert await ipn(signed(txn_ref, 150_000)) == "02"
    assert await ipn(signed(txn_ref, 150_000, "24")) == "02"  # failure after success
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    assert (await ledger_nets(database_url))[chart.provider_clearing("vnpay").code] == 150_000
    uow = uow_for(database_url)
    try:
        async with uow() as tx:
            stored = await tx.callbacks.for_payment(payment["id"])
    finally:
        await uow.engine.dispose()
    # unverified messages naming the attempt are kept too, with why they were refused
    verifications = [c.verification for c in stored]
    assert "bad_signature" in verifications
    assert all(c.provider is Provider.VNPAY for c in stored)


async def test_cross_site_post_is_refused(sandbox: httpx.AsyncClient, portal: Portal) -> None:
    payment = await create(sandbox, portal)
    answer = await sandbox.post(
        path_of(payment["checkout_url"]),
        data={"provider": "vnpay"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert await status(sandbox, portal, payment["id"]) == "created"
