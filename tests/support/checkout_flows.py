"""A payer's way through checkout over HTTP, in sandbox mode: create the payment as the portal,
choose a provider on its checkout page, pay at the simulator, and read back its status and the
ledger."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from payments.providers.vietqr import qr as vietqr
from tests.support.api import BASE_URL, Portal, payment_body, uow_for


async def create(http: httpx.AsyncClient, portal: Portal, **body: Any) -> dict[str, Any]:
    answer = await http.post(
        "/v1/payments",
        json=payment_body(**body),
        headers={**portal.auth(), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def status(http: httpx.AsyncClient, portal: Portal, payment_id: str) -> str:
    answer = await http.get(f"/v1/payments/{payment_id}", headers=portal.auth())
    value: str = answer.json()["status"]
    return value


async def ledger_nets(database_url: str) -> dict[str, int]:
    uow = uow_for(database_url)
    try:
        async with uow() as tx:
            return {row.account.code: row.net for row in await tx.ledger.totals(as_of=None)}
    finally:
        await uow.engine.dispose()


# --- VNPay ------------------------------------------------------------------------------------


async def choose_vnpay(http: httpx.AsyncClient, payment: dict[str, Any]) -> str:
    answer = await http.post(
        path_of(payment["checkout_url"]),
        data={"provider": "vnpay", "lang": "vi"},
        headers={"Origin": BASE_URL},
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{BASE_URL}/sandbox/vnpay/paymentv2/vpcpay.html?")
    return location


async def pay_vnpay(http: httpx.AsyncClient, pay_url: str, outcome: str, **switches: str) -> str:
    page = await http.get(path_of(pay_url))
    assert page.status_code == 200, page.text
    txn_ref = dict(parse_qsl(urlsplit(pay_url).query))["vnp_TxnRef"]
    answer = await http.post(
        "/sandbox/vnpay/paymentv2/pay", data={"txn_ref": txn_ref, "outcome": outcome, **switches}
    )
    assert answer.status_code == 303
    location: str = answer.headers["location"]
    return location


# --- MoMo -------------------------------------------------------------------------------------


async def choose_momo(http: httpx.AsyncClient, payment: dict[str, Any]) -> str:
    answer = await http.post(
        path_of(payment["checkout_url"]), data={"provider": "momo"}, headers={"Origin": BASE_URL}
    )
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    assert location.startswith(f"{BASE_URL}/sandbox/momo/pay?orderId=att_")
    return location


async def pay_momo(http: httpx.AsyncClient, pay_url: str, outcome: str, **switches: str) -> str:
    page = await http.get(path_of(pay_url))
    assert page.status_code == 200
    order_id = dict(parse_qsl(urlsplit(pay_url).query))["orderId"]
    answer = await http.post(
        "/sandbox/momo/pay", data={"order_id": order_id, "outcome": outcome, **switches}
    )
    assert answer.status_code == 303
    location: str = answer.headers["location"]
    assert re.match(rf"{re.escape(BASE_URL)}/checkout/return/momo/(vi|en)\?", location)
    return location


# --- back from a provider ---------------------------------------------------------------------


async def come_back(
    http: httpx.AsyncClient, payment: dict[str, Any], return_url: str, lang: str = "vi"
) -> httpx.Response:
    """Follow the provider's return as a browser does: the return verifies, keeps the record
    and sends the payer on to the payment's checkout page, in ``lang``, which is answered."""
    answer = await http.get(path_of(return_url))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{path_of(payment['checkout_url'])}?lang={lang}"
    page = await http.get(answer.headers["location"])
    assert page.status_code == 200, page.text
    return page


# --- VietQR -----------------------------------------------------------------------------------


async def qr_page(http: httpx.AsyncClient, payment: dict[str, Any]) -> tuple[str, str]:
    """Choose VietQR; return the QR page's path and the transfer reference it shows."""
    answer = await http.post(
        path_of(payment["checkout_url"]), data={"provider": "vietqr"}, headers={"Origin": BASE_URL}
    )
    assert answer.status_code == 303, answer.text
    path = path_of(answer.headers["location"])
    page = await http.get(path)
    assert page.status_code == 200
    payload = re.search(r'<textarea id="payload"[^>]*>([^<]+)</textarea>', page.text)
    assert payload is not None
    parsed = vietqr.parse_payload(payload.group(1))
    assert parsed.amount == 150_000
    assert parsed.dynamic
    assert "<svg" in page.text
    assert "113366668888" in page.text
    reference = re.search(r"<strong>(PF[A-Z0-9]{10})</strong>", page.text)
    assert reference is not None
    return path, reference.group(1)


async def simulate(http: httpx.AsyncClient, path: str, reference: str, choice: str) -> None:
    answer = await http.post(
        "/sandbox/vietqr/transfer",
        data={"reference": reference, "choice": choice, "back": path},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == path
