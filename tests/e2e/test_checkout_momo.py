"""MoMo end to end over HTTP: create via the simulator, pay, IPN (204), ledger."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from payments.entrypoints.web.i18n import TEXTS
from payments.ledger import chart
from payments.providers.momo import protocol as momo
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, api_client
from tests.support.checkout_flows import (
    choose_momo,
    come_back,
    create,
    ledger_nets,
    pay_momo,
    status,
)

SANDBOX = Settings(sandbox=True, base_url=BASE_URL).momo
CONFIG = momo.MomoConfig(SANDBOX.partner_code, SANDBOX.access_key, SANDBOX.secret_key, "")


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, sandbox=True) as http:
        yield http


async def test_momo_success_end_to_end(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    return_url = await pay_momo(
        sandbox, await choose_momo(sandbox, payment), "success", duplicate_ipn="1"
    )
    result = await come_back(sandbox, payment, return_url)
    assert TEXTS["vi"]["paid_note"] in result.text
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    nets = await ledger_nets(database_url)
    assert nets[chart.provider_clearing("momo").code] == 150_000
    assert sum(nets.values()) == 0


@pytest.mark.parametrize(("outcome", "code"), [("failure", 1001), ("cancel", 1006)])
async def test_momo_failure_and_cancel(
    sandbox: httpx.AsyncClient, portal: Portal, outcome: str, code: int
) -> None:
    payment = await create(sandbox, portal)
    return_url = await pay_momo(sandbox, await choose_momo(sandbox, payment), outcome)
    result = await come_back(sandbox, payment, return_url)
    assert momo.PAYER_REASONS[code].vi in result.text
    assert await status(sandbox, portal, payment["id"]) == "failed"


async def test_momo_ipn_answers(sandbox: httpx.AsyncClient, portal: Portal) -> None:
    payment = await create(sandbox, portal)
    pay_url = await choose_momo(sandbox, payment)
    order_id = dict(parse_qsl(urlsplit(pay_url).query))["orderId"]
    fields: dict[str, object] = {
        "partnerCode": CONFIG.partner_code,
        "orderId": order_id,
        "requestId": "r1",
        "amount": 150_000,
        "orderInfo": "x",
        "orderType": "momo_wallet",
        "transId": 42,
        "resultCode": 0,
        "message": "success",
        "payType": "qr",
        "responseTime": 1_790_000_000_000,
        "extraData": "",
    }
    signed = momo.sign_ipn(CONFIG, fields)
    bad = await sandbox.post("/callbacks/momo/ipn", json={**signed, "amount": 1})
    assert bad.status_code == 400
    not_json = await sandbox.post("/callbacks/momo/ipn", content=b"nope")
    assert not_json.status_code == 400
    # Signed, then a second resultCode appended: two readings of one body are none.
    text = json.dumps(signed)
    twice = await sandbox.post(
        "/callbacks/momo/ipn",
        content=text[:-1] + ', "resultCode": 1006}',
        headers={"Content-Type": "application/json"},
    )
    assert twice.status_code == 400
    assert await status(sandbox, portal, payment["id"]) == "pending"
    wrong_amount = await sandbox.post(
        "/callbacks/momo/ipn", json=momo.sign_ipn(CONFIG, {**fields, "amount": 10_000})
    )
    assert wrong_amount.status_code == 204
    assert await status(sandbox, portal, payment["id"]) == "pending"
    for _ in range(2):
        ok = await sandbox.post("/callbacks/momo/ipn", json=signed)
        assert ok.status_code == 204
        assert ok.content == b""
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
