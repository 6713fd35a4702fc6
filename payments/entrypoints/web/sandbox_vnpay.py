"""Sandbox VNPay: the provider's side of the protocol, mounted only in sandbox mode.

A tester opens the signed pay URL, picks success, failure or cancel, and the simulator then
does what VNPay does: calls the gateway's IPN URL server-to-server with signed parameters
(optionally twice, later, or not at all), and redirects the browser to ``vnp_ReturnUrl``. It answers
``querydr`` from its own records. Records live in this process's memory: the sandbox is a
single-process demo and test tool.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from payments.entrypoints.api.requests import container
from payments.entrypoints.web.rendering import page
from payments.entrypoints.web.sandbox_delivery import deliveries, switches
from payments.providers import vnpay, vnpay_api

log = structlog.get_logger()
PREFIX = "/sandbox/vnpay"
OUTCOMES = {  # tester's choice -> (vnp_ResponseCode, vnp_TransactionStatus)
    "success": ("00", "00"),
    "failure": ("51", "02"),  # insufficient funds
    "cancel": ("24", "02"),  # customer cancelled
}


@dataclass
class SimulatedOrder:
    txn_ref: str
    amount: int
    order_info: str
    return_url: str
    response_code: str = ""
    transaction_status: str = "01"
    transaction_no: str = ""
    bank_code: str = "NCB"
    pay_date: datetime | None = None


@dataclass
class VnpaySimulator:
    config: vnpay.VnpayConfig
    ipn_url: str
    orders: dict[str, SimulatedOrder] = field(default_factory=dict)


def _simulator(request: Request) -> VnpaySimulator:
    simulator: VnpaySimulator = request.app.state.vnpay_simulator
    return simulator


async def pay_page(request: Request) -> Response:
    sim = _simulator(request)
    params = {key: value for key, value in request.query_params.items()}
    if not vnpay.signature_is_valid(sim.config.hash_secret, params):
        return Response("sandbox VNPay: invalid signature (code 97)", status_code=400)
    try:
        amount = vnpay.from_wire_amount(params.get("vnp_Amount", ""))
    except ValueError:
        return Response("sandbox VNPay: invalid amount (code 03)", status_code=400)
    order = SimulatedOrder(
        txn_ref=params.get("vnp_TxnRef", ""),
        amount=amount,
        order_info=params.get("vnp_OrderInfo", ""),
        return_url=params.get("vnp_ReturnUrl", ""),
    )
    sim.orders.setdefault(order.txn_ref, order)
    return page(
        request,
        "sandbox_vnpay.html",
        {
            "order": order,
            "amount_text": f"{amount:,}".replace(",", ".") + " VND",
            "action": f"{PREFIX}/paymentv2/pay",
            "lang": "en" if params.get("vnp_Locale") == "en" else "vi",
        },
    )


async def pay(request: Request) -> Response:
    app = container(request)
    sim = _simulator(request)
    form = await request.form(max_files=0, max_fields=10)
    order = sim.orders.get(str(form.get("txn_ref", "")))
    choice = OUTCOMES.get(str(form.get("outcome", "")))
    if order is None or choice is None:
        return Response("sandbox VNPay: unknown order or outcome", status_code=400)
    if not order.response_code:  # a second click replays the first result, as VNPay would
        order.response_code, order.transaction_status = choice
        order.transaction_no = str(14_000_000 + secrets.randbelow(1_000_000))
        order.pay_date = app.clock()
    assert order.pay_date is not None
    params = vnpay.callback_params(
        sim.config,
        txn_ref=order.txn_ref,
        amount=order.amount,
        response_code=order.response_code,
        transaction_status=order.transaction_status,
        transaction_no=order.transaction_no,
        bank_code=order.bank_code,
        order_info=order.order_info,
        pay_date=order.pay_date,
    )

    async def send_ipn() -> None:
        answer = await app.http.get(sim.ipn_url, params=params, timeout=15)
        log.info("sandbox_vnpay_ipn", status=answer.status_code, body=answer.text[:100])

    chosen = switches(form, drop="drop_ipn", duplicate="duplicate_ipn")
    await deliveries(request).deliver(chosen, send_ipn)
    return RedirectResponse(f"{order.return_url}?{urlencode(params)}", status_code=303)


async def merchant_api(request: Request) -> Response:
    sim = _simulator(request)
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse({"vnp_ResponseCode": "03", "vnp_Message": "Invalid format"})
    if body.get("vnp_Command") != "querydr":
        return JSONResponse({"vnp_ResponseCode": "99", "vnp_Message": "Not simulated"})
    if not vnpay_api.verify_querydr_request(sim.config, body):
        return JSONResponse({"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"})
    order = sim.orders.get(str(body.get("vnp_TxnRef", "")))
    fields = {
        "vnp_ResponseId": secrets.token_hex(8),
        "vnp_Command": "querydr",
        "vnp_TmnCode": sim.config.tmn_code,
        "vnp_TxnRef": str(body.get("vnp_TxnRef", "")),
    }
    if order is None:
        fields.update(vnp_ResponseCode="91", vnp_Message="Transaction not found")
    else:
        fields.update(
            vnp_ResponseCode="00",
            vnp_Message="QueryDR Success",
            vnp_Amount=vnpay.to_wire_amount(order.amount),
            vnp_BankCode=order.bank_code,
            vnp_PayDate=vnpay.to_wire_date(order.pay_date) if order.pay_date else "",
            vnp_TransactionNo=order.transaction_no,
            vnp_TransactionType="01",
            vnp_TransactionStatus=order.transaction_status,
            vnp_OrderInfo=order.order_info,
        )
    return JSONResponse(vnpay_api.sign_querydr_response(sim.config, fields))


routes = [
    Route(f"{PREFIX}/paymentv2/vpcpay.html", pay_page, methods=["GET"]),
    Route(f"{PREFIX}/paymentv2/pay", pay, methods=["POST"]),
    Route(f"{PREFIX}/merchant_webapi/api/transaction", merchant_api, methods=["POST"]),
]
