"""Sandbox MoMo: the wallet's side of the v2 API, mounted only in sandbox mode.

``create`` answers a ``payUrl`` on this simulator; there a tester picks success, failure or
cancel; the simulator POSTs the signed IPN to the ``ipnUrl`` it was given (twice, later, or
not at all, on request) and redirects the browser to ``redirectUrl`` with the same fields.
``query`` answers from the simulator's records (this process's memory).
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
from payments.providers import momo

log = structlog.get_logger()
PREFIX = "/sandbox/momo"
OUTCOMES = {"success": 0, "failure": 1001, "cancel": 1006}  # paid, no funds, user declined


@dataclass
class SimulatedOrder:
    order_id: str
    request_id: str
    amount: int
    order_info: str
    redirect_url: str
    ipn_url: str
    extra_data: str
    result_code: int = 1000  # initiated
    trans_id: int = 0
    paid_at: datetime | None = None


@dataclass
class MomoSimulator:
    config: momo.MomoConfig
    base_url: str
    orders: dict[str, SimulatedOrder] = field(default_factory=dict)


def _simulator(request: Request) -> MomoSimulator:
    simulator: MomoSimulator = request.app.state.momo_simulator
    return simulator


async def _json(request: Request) -> dict[str, object] | None:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _millis(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


async def create(request: Request) -> Response:
    sim = _simulator(request)
    body = await _json(request)
    if body is None or not momo.verify_create_request(sim.config, body):
        return JSONResponse({"resultCode": 13, "message": "merchant authentication failed"})
    order_id, request_id = str(body["orderId"]), str(body["requestId"])
    amount = momo.integer_field(body.get("amount"))
    answer: dict[str, object] = {
        "partnerCode": sim.config.partner_code,
        "orderId": order_id,
        "requestId": request_id,
        "amount": amount,
        "responseTime": _millis(container(request).clock()),
    }
    if amount is None or not momo.MIN_AMOUNT <= amount <= momo.MAX_AMOUNT:
        return JSONResponse({**answer, "resultCode": 21, "message": "invalid amount"})
    if order_id in sim.orders:
        return JSONResponse({**answer, "resultCode": 41, "message": "duplicate orderId"})
    sim.orders[order_id] = SimulatedOrder(
        order_id=order_id,
        request_id=request_id,
        amount=amount,
        order_info=str(body.get("orderInfo", "")),
        redirect_url=str(body.get("redirectUrl", "")),
        ipn_url=str(body.get("ipnUrl", "")),
        extra_data=str(body.get("extraData", "")),
    )
    pay_url = f"{sim.base_url}{PREFIX}/pay?{urlencode({'orderId': order_id})}"
    return JSONResponse({**answer, "resultCode": 0, "message": "success", "payUrl": pay_url})


async def pay_page(request: Request) -> Response:
    order = _simulator(request).orders.get(request.query_params.get("orderId", ""))
    if order is None:
        return Response("sandbox MoMo: unknown order", status_code=404)
    return page(
        request,
        "sandbox_momo.html",
        {
            "order": order,
            "amount_text": f"{order.amount:,}".replace(",", ".") + " VND",
            "action": f"{PREFIX}/pay",
        },
    )


async def pay(request: Request) -> Response:
    app = container(request)
    sim = _simulator(request)
    form = await request.form(max_files=0, max_fields=10)
    order = sim.orders.get(str(form.get("order_id", "")))
    choice = OUTCOMES.get(str(form.get("outcome", "")))
    if order is None or choice is None:
        return Response("sandbox MoMo: unknown order or outcome", status_code=400)
    if order.paid_at is None:  # a second click replays the first result
        order.result_code = choice
        order.trans_id = 3_000_000_000 + secrets.randbelow(1_000_000_000)
        order.paid_at = app.clock()
    fields = momo.sign_ipn(
        sim.config,
        {
            "partnerCode": sim.config.partner_code,
            "orderId": order.order_id,
            "requestId": order.request_id,
            "amount": order.amount,
            "orderInfo": order.order_info,
            "orderType": "momo_wallet",
            "transId": order.trans_id,
            "resultCode": order.result_code,
            "message": momo.RESULT_MESSAGES.get(order.result_code, ""),
            "payType": "qr",
            "responseTime": _millis(order.paid_at),
            "extraData": order.extra_data,
        },
    )

    async def send_ipn() -> None:
        answer = await app.http.post(order.ipn_url, json=fields, timeout=15)
        log.info("sandbox_momo_ipn", status=answer.status_code)

    chosen = switches(form, drop="drop_ipn", duplicate="duplicate_ipn")
    await deliveries(request).deliver(chosen, send_ipn)
    query = urlencode({key: str(value) for key, value in fields.items()})
    return RedirectResponse(f"{order.redirect_url}?{query}", status_code=303)


async def query(request: Request) -> Response:
    sim = _simulator(request)
    body = await _json(request)
    if body is None or not momo.verify_query_request(sim.config, body):
        return JSONResponse({"resultCode": 13, "message": "merchant authentication failed"})
    order = sim.orders.get(str(body.get("orderId", "")))
    answer: dict[str, object] = {
        "partnerCode": sim.config.partner_code,
        "orderId": body.get("orderId"),
        "requestId": body.get("requestId"),
    }
    if order is None:
        return JSONResponse({**answer, "resultCode": 42, "message": "invalid orderId"})
    return JSONResponse(
        {
            **answer,
            "resultCode": order.result_code,
            "message": momo.RESULT_MESSAGES.get(order.result_code, ""),
            "amount": order.amount,
            "transId": order.trans_id,
            "payType": "qr",
            "refundTrans": [],
        }
    )


routes = [
    Route(f"{PREFIX}/v2/gateway/api/create", create, methods=["POST"]),
    Route(f"{PREFIX}/v2/gateway/api/query", query, methods=["POST"]),
    Route(f"{PREFIX}/pay", pay_page, methods=["GET"]),
    Route(f"{PREFIX}/pay", pay, methods=["POST"]),
]
