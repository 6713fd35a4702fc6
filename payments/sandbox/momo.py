"""Sandbox MoMo: the wallet's side of the v2 API, mounted only in sandbox mode.

``create`` answers a ``payUrl`` on this simulator; there a tester picks success, failure or
cancel; the simulator POSTs the signed IPN to the ``ipnUrl`` it was given (twice, later, or
not at all, on request) and redirects the browser to ``redirectUrl`` with the same fields.
``query`` and ``refund`` answer from the simulator's records (this process's memory; refund
switches: ``sandbox_refunds``; fault switches for ``create``, ``query``, ``refund`` and its
``settlement`` report: ``sandbox_faults``).

Refund answer codes: ``0`` refunded; ``7000`` processing (the ``pending`` switch); ``1080`` the
``fail`` switch; ``1081`` refused: the transaction is unknown or unpaid, or the amount is more
than is left to refund; ``41`` the refund's orderId was used by another request. ``1080`` and
``1081`` follow MoMo's published tables (unconfirmed).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from payments.http.requests import container
from payments.providers.momo import protocol as momo
from payments.sandbox.delivery import deliveries, switches
from payments.sandbox.faults import fault_routes, lost, page_section
from payments.sandbox.pages import page
from payments.sandbox.refunds import (
    RefundMode,
    RefundState,
    SimulatedRefund,
    switch_routes,
)
from payments.sandbox.wallets import WalletSimulator

log = structlog.get_logger()
PREFIX = "/sandbox/momo"
OPERATIONS = ("create", "query", "refund", "settlement")
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


@dataclass(kw_only=True)
class MomoSimulator(WalletSimulator[SimulatedOrder]):
    operations: ClassVar[tuple[str, ...]] = OPERATIONS
    state_name: ClassVar[str] = "momo_simulator"
    config: momo.MomoConfig
    base_url: str


def _simulator(request: Request) -> MomoSimulator:
    return MomoSimulator.of(request)


async def _json(request: Request) -> dict[str, object] | None:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _millis(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _other(known: list[str], own: str) -> str:
    """Another id than ``own``: the latest other one MoMo knows, else one it never had."""
    others = [key for key in known if key != own]
    return others[-1] if others else f"{own}X"


async def create(request: Request) -> Response:
    sim = _simulator(request)

    async def act(other: bool) -> Response:
        answer = await _create(request, sim)
        if other and "orderId" in answer:  # the order is made; the answer names another one
            answer["orderId"] = _other(list(sim.orders), str(answer["orderId"]))
        return JSONResponse(answer)

    return await sim.faults.run("create", act)


async def _create(request: Request, sim: MomoSimulator) -> dict[str, object]:
    body = await _json(request)
    if body is None or not momo.verify_create_request(sim.config, body):
        return {"resultCode": 13, "message": "merchant authentication failed"}
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
        return {**answer, "resultCode": 21, "message": "invalid amount"}
    if order_id in sim.orders:
        return {**answer, "resultCode": 41, "message": "duplicate orderId"}
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
    return {**answer, "resultCode": 0, "message": "success", "payUrl": pay_url}


async def pay_page(request: Request) -> Response:
    sim = _simulator(request)
    order = sim.orders.get(request.query_params.get("orderId", ""))
    if order is None:
        return Response("sandbox MoMo: unknown order", status_code=404)
    return page(
        request,
        "wallet.html",
        {
            "wallet": "MoMo",
            "order_fields": [("orderId", order.order_id), ("orderInfo", order.order_info)],
            "order_key": ("order_id", order.order_id),
            "failure_label": "Failure (insufficient funds, 1001) / Thất bại",
            "cancel_label": "Cancel (user declined, 1006) / Hủy",
            "amount_text": f"{order.amount:,}".replace(",", ".") + " VND",
            "action": f"{PREFIX}/pay",
            "faults": page_section(request, PREFIX, sim.faults),
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

    async def act(other: bool) -> Response:
        return JSONResponse(await _query(request, sim, other))

    return await sim.faults.run("query", act)


async def _query(request: Request, sim: MomoSimulator, other: bool) -> dict[str, object]:
    body = await _json(request)
    if body is None or not momo.verify_query_request(sim.config, body):
        return {"resultCode": 13, "message": "merchant authentication failed"}
    if other:  # the answer MoMo would give about another order
        body = {**body, "orderId": _other(list(sim.orders), str(body.get("orderId", "")))}
    order = sim.orders.get(str(body.get("orderId", "")))
    answer: dict[str, object] = {
        "partnerCode": sim.config.partner_code,
        "orderId": body.get("orderId"),
        "requestId": body.get("requestId"),
    }
    if order is None:
        return {**answer, "resultCode": 42, "message": "invalid orderId"}
    return {
        **answer,
        "resultCode": order.result_code,
        "message": momo.RESULT_MESSAGES.get(order.result_code, ""),
        "amount": order.amount,
        "transId": order.trans_id,
        "payType": "qr",
        "refundTrans": [
            {
                "orderId": refund.request_id,
                "amount": refund.amount,
                "resultCode": REFUND_CODES[refund.state],
                "transId": int(refund.refund_no),
            }
            for refund in sim.refunds.of(order.order_id)
        ],
    }


REFUND_CODES = {RefundState.SUCCEEDED: 0, RefundState.PENDING: 7000, RefundState.FAILED: 1080}


def _paid_order(sim: MomoSimulator, trans_id: int | None) -> SimulatedOrder | None:
    for order in sim.orders.values():
        if trans_id is not None and order.trans_id == trans_id and order.result_code == 0:
            return order
    return None


def _refund_decision(
    sim: MomoSimulator, order: SimulatedOrder | None, amount: int | None, mode: RefundMode
) -> tuple[int, str, RefundState | None]:
    """(resultCode, message, the state of the refund to record or None)."""
    if amount is None or amount <= 0:
        return 21, "invalid amount", None
    if order is None:
        return 1081, "refund rejected: no paid transaction with this transId", None
    if amount > order.amount - sim.refunds.reserved(order.order_id):
        return 1081, "refund rejected: more than is left to refund", None
    if mode is RefundMode.FAIL:
        return 1080, "refund failed (sandbox failure switch)", RefundState.FAILED
    if mode is RefundMode.PENDING:
        return 7000, "processing", RefundState.PENDING
    return 0, "success", RefundState.SUCCEEDED


async def refund(request: Request) -> Response:
    sim = _simulator(request)

    async def act(other: bool) -> Response:
        answer = await _refund(request, sim)
        if isinstance(answer, Response):
            return answer
        if other and "orderId" in answer:  # the refund is made; the answer names another one
            told = _other(list(sim.refunds.refunds), str(answer["orderId"]))
            found = sim.refunds.refunds.get(told)
            answer = {**answer, "orderId": told, "transId": int(found.refund_no) if found else 0}
        return JSONResponse(answer)

    return await sim.faults.run("refund", act)


async def _refund(request: Request, sim: MomoSimulator) -> dict[str, object] | Response:
    """The answer to a refund request, or the lost request's empty 504."""
    body = await _json(request)
    if body is None or not momo.verify_refund_request(sim.config, body):
        return {"resultCode": 13, "message": "merchant authentication failed"}
    request_id, refund_order_id = str(body.get("requestId", "")), str(body.get("orderId", ""))
    asked = (refund_order_id, body.get("amount"), body.get("transId"))
    replayed = sim.refunds.replay(request_id, asked)
    if replayed is not None:
        return replayed
    now = container(request).clock()
    answer: dict[str, object] = {
        "partnerCode": sim.config.partner_code,
        "orderId": refund_order_id,
        "requestId": request_id,
        "amount": body.get("amount"),
        "responseTime": _millis(now),
    }
    if sim.refunds.reused(request_id, asked) or refund_order_id in sim.refunds.refunds:
        return {**answer, "resultCode": 41, "message": "duplicate orderId"}
    mode = sim.refunds.take_mode()
    if mode is RefundMode.DROP:
        return lost()
    amount = momo.integer_field(body.get("amount"))
    order = _paid_order(sim, momo.integer_field(body.get("transId")))
    code, message, state = _refund_decision(sim, order, amount, mode)
    refund_trans_id = 4_000_000_000 + secrets.randbelow(1_000_000_000) if state else 0
    if state is not None and order is not None and amount is not None:
        # The refund's orderId is the key MoMo lists it by in the paid order's refundTrans.
        sim.refunds.refunds[refund_order_id] = SimulatedRefund(
            request_id=refund_order_id,
            paid_ref=order.order_id,
            amount=amount,
            full=amount == order.amount,
            state=state,
            refund_no=str(refund_trans_id),
            created=str(answer["responseTime"]),
            paid_at=now if state is RefundState.SUCCEEDED else None,
        )
    answer.update(resultCode=code, message=message, transId=refund_trans_id)
    sim.refunds.remember(request_id, asked, answer)
    if mode is RefundMode.TIMEOUT:  # made, but the answer comes too late
        await sim.faults.wait(sim.refunds.timeout_seconds)
    return answer


routes = [
    Route(f"{PREFIX}/v2/gateway/api/create", create, methods=["POST"]),
    Route(f"{PREFIX}/v2/gateway/api/query", query, methods=["POST"]),
    Route(f"{PREFIX}/v2/gateway/api/refund", refund, methods=["POST"]),
    *switch_routes(PREFIX, "momo_simulator"),
    *fault_routes(PREFIX, "momo_simulator"),
    Route(f"{PREFIX}/pay", pay_page, methods=["GET"]),
    Route(f"{PREFIX}/pay", pay, methods=["POST"]),
]
