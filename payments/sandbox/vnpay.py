"""Sandbox VNPay: the provider's side of the protocol, mounted only in sandbox mode.

A tester opens the signed pay URL, picks success, failure or cancel, and the simulator then
does what VNPay does: calls the gateway's IPN URL server-to-server with signed parameters
(optionally twice, later, or not at all), and redirects the browser to ``vnp_ReturnUrl``. It answers
``querydr`` and ``refund`` from its own records (refund switches: ``sandbox_refunds``; fault
switches for ``querydr``, ``refund`` and its ``settlement`` report: ``sandbox_faults``). Records
live in this process's memory: the sandbox is a single-process demo and test tool.

Refund answer codes: ``00`` with ``vnp_TransactionStatus`` ``06`` (sent to the bank) or ``05``
(processing, the ``pending`` switch); ``91`` unknown transaction; ``95`` the transaction was not
paid, or the ``fail`` switch; ``94`` another refund of it is still pending; ``04`` a full refund
after a partial one; ``93`` more than is left to refund; ``03`` a request id reused for a
different refund. ``04`` and ``93`` follow VNPay's published tables (unconfirmed).
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
from payments.providers.vnpay import api as vnpay_api
from payments.providers.vnpay import protocol as vnpay
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
PREFIX = "/sandbox/vnpay"
OPERATIONS = ("querydr", "refund", "settlement")
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


@dataclass(kw_only=True)
class VnpaySimulator(WalletSimulator[SimulatedOrder]):
    operations: ClassVar[tuple[str, ...]] = OPERATIONS
    state_name: ClassVar[str] = "vnpay_simulator"
    config: vnpay.VnpayConfig
    ipn_url: str


def _simulator(request: Request) -> VnpaySimulator:
    return VnpaySimulator.of(request)


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
        "wallet.html",
        {
            "wallet": "VNPay",
            "order_fields": [("vnp_TxnRef", order.txn_ref), ("vnp_OrderInfo", order.order_info)],
            "order_key": ("txn_ref", order.txn_ref),
            "failure_label": "Failure (insufficient funds) / Thất bại",
            "cancel_label": "Cancel / Hủy giao dịch",
            "amount_text": f"{amount:,}".replace(",", ".") + " VND",
            "action": f"{PREFIX}/paymentv2/pay",
            "lang": "en" if params.get("vnp_Locale") == "en" else "vi",
            "faults": page_section(request, PREFIX, sim.faults),
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
    if body.get("vnp_Command") == "querydr":
        return await sim.faults.run("querydr", lambda other: _querydr_call(sim, body, other))
    if body.get("vnp_Command") == "refund":
        now = container(request).clock()
        return await sim.faults.run("refund", lambda other: _refund_call(sim, body, now, other))
    return JSONResponse({"vnp_ResponseCode": "99", "vnp_Message": "Not simulated"})


def _other_ref(sim: VnpaySimulator, txn_ref: str) -> str:
    """Another transaction than ``txn_ref``: the latest other order, else one VNPay never had."""
    others = [ref for ref in sim.orders if ref != txn_ref]
    return others[-1] if others else f"{txn_ref}X"


async def _querydr_call(sim: VnpaySimulator, body: dict[str, object], other: bool) -> Response:
    if not vnpay_api.verify_querydr_request(sim.config, body):
        return JSONResponse({"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"})
    if other:  # the answer VNPay would give about another transaction
        body = {**body, "vnp_TxnRef": _other_ref(sim, str(body.get("vnp_TxnRef", "")))}
    return JSONResponse(_querydr(sim, body))


async def _refund_call(
    sim: VnpaySimulator, body: dict[str, object], now: datetime, other: bool
) -> Response:
    if not vnpay_api.verify_refund_request(sim.config, body):
        return JSONResponse({"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"})
    answer = await _refund(sim, body, now)
    if isinstance(answer, Response):
        return answer
    if not other:
        return JSONResponse(answer)
    # The refund is made; the answer, duly signed, names another transaction.
    fields = {key: str(value) for key, value in answer.items() if key != "vnp_SecureHash"}
    fields["vnp_TxnRef"] = _other_ref(sim, fields.get("vnp_TxnRef", ""))
    return JSONResponse(vnpay_api.sign_refund_response(sim.config, fields))


def _querydr(sim: VnpaySimulator, body: dict[str, object]) -> dict[str, str]:
    txn_ref = str(body.get("vnp_TxnRef", ""))
    order = sim.orders.get(txn_ref)
    fields = {
        "vnp_ResponseId": secrets.token_hex(8),
        "vnp_Command": "querydr",
        "vnp_TmnCode": sim.config.tmn_code,
        "vnp_TxnRef": txn_ref,
    }
    # VNPay tells a refund apart from its payment by the date asked about: the refund's own.
    dated = [r for r in sim.refunds.of(txn_ref) if r.created == body.get("vnp_TransactionDate")]
    if order is None:
        fields.update(vnp_ResponseCode="91", vnp_Message="Transaction not found")
    elif dated:
        refund = dated[-1]
        fields.update(
            vnp_ResponseCode="00",
            vnp_Message="QueryDR Success",
            vnp_Amount=vnpay.to_wire_amount(refund.amount),
            vnp_BankCode=order.bank_code,
            vnp_PayDate=refund.created,
            vnp_TransactionNo=refund.refund_no,
            vnp_TransactionType="02" if refund.full else "03",
            vnp_TransactionStatus=REFUND_STATUS[refund.state],
            vnp_OrderInfo=order.order_info,
        )
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
    return vnpay_api.sign_querydr_response(sim.config, fields)


REFUND_STATUS = {  # vnp_TransactionStatus of a refund
    RefundState.SUCCEEDED: "06",  # sent to the bank
    RefundState.PENDING: "05",  # processing
    RefundState.FAILED: "09",  # rejected
}


def _refund_decision(
    sim: VnpaySimulator, body: dict[str, object], amount: int | None, mode: RefundMode
) -> tuple[str, str, RefundState | None]:
    """(response code, message, the state of the refund to record or None)."""
    order = sim.orders.get(str(body.get("vnp_TxnRef", "")))
    full = body.get("vnp_TransactionType") == vnpay_api.FULL_REFUND
    if amount is None or amount <= 0:
        return "03", "Invalid amount", None
    if order is None:
        return "91", "Transaction not found", None
    if (order.response_code, order.transaction_status) != ("00", "00"):
        return "95", "Original transaction was not successful", None
    refunds = sim.refunds.of(order.txn_ref)
    if any(r.state is RefundState.PENDING for r in refunds):
        return "94", "A refund of this transaction is already pending", None
    reserved = sim.refunds.reserved(order.txn_ref)
    if full and (reserved > 0 or amount != order.amount):
        return "04", "Full refund not allowed: the amount is not the whole transaction", None
    if amount > order.amount - reserved:
        return "93", "Refund amount exceeds what is left to refund", None
    if mode is RefundMode.FAIL:
        return "95", "Refund refused (sandbox failure switch)", RefundState.FAILED
    if mode is RefundMode.PENDING:
        return "00", "Refund is processing", RefundState.PENDING
    return "00", "Refund success", RefundState.SUCCEEDED


async def _refund(
    sim: VnpaySimulator, body: dict[str, object], now: datetime
) -> dict[str, object] | Response:
    """The answer to a refund request (signed), or the lost request's empty 504."""
    request_id = str(body.get("vnp_RequestId", ""))
    txn_ref = str(body.get("vnp_TxnRef", ""))
    asked = (txn_ref, body.get("vnp_Amount"), body.get("vnp_TransactionType"))
    replayed = sim.refunds.replay(request_id, asked)
    if replayed is not None:
        return replayed
    if sim.refunds.reused(request_id, asked):
        reuse = "Request id already used for another refund"
        return {**_refund_answer(sim, body, now, ("03", reuse, None), "")}
    mode = sim.refunds.take_mode()
    if mode is RefundMode.DROP:
        return lost()
    try:
        amount: int | None = vnpay.from_wire_amount(str(body.get("vnp_Amount", "")))
    except ValueError:
        amount = None
    decision = _refund_decision(sim, body, amount, mode)
    state = decision[2]
    refund_no = str(15_000_000 + secrets.randbelow(1_000_000)) if state else ""
    if state is not None and amount is not None:
        sim.refunds.refunds[request_id] = SimulatedRefund(
            request_id=request_id,
            paid_ref=txn_ref,
            amount=amount,
            full=body.get("vnp_TransactionType") == vnpay_api.FULL_REFUND,
            state=state,
            refund_no=refund_no,
            created=str(body.get("vnp_CreateDate", "")),
            paid_at=now if state is RefundState.SUCCEEDED else None,
        )
    answer = _refund_answer(sim, body, now, decision, refund_no)
    sim.refunds.remember(request_id, asked, answer)
    if mode is RefundMode.TIMEOUT:  # made, but the answer comes too late
        await sim.faults.wait(sim.refunds.timeout_seconds)
    return {**answer}


def _refund_answer(
    sim: VnpaySimulator,
    body: dict[str, object],
    now: datetime,
    decision: tuple[str, str, RefundState | None],
    refund_no: str,
) -> dict[str, str]:
    code, message, state = decision
    fields = {
        "vnp_ResponseId": secrets.token_hex(8),
        "vnp_Command": "refund",
        "vnp_ResponseCode": code,
        "vnp_Message": message,
        "vnp_TmnCode": sim.config.tmn_code,
        "vnp_TxnRef": str(body.get("vnp_TxnRef", "")),
        "vnp_Amount": str(body.get("vnp_Amount", "")),
        "vnp_BankCode": "NCB",
        "vnp_PayDate": vnpay.to_wire_date(now),
        "vnp_TransactionNo": refund_no,
        "vnp_TransactionType": str(body.get("vnp_TransactionType", "")),
        "vnp_TransactionStatus": REFUND_STATUS[state] if state else "",
        "vnp_OrderInfo": str(body.get("vnp_OrderInfo", "")),
    }
    return vnpay_api.sign_refund_response(sim.config, fields)


routes = [
    Route(f"{PREFIX}/paymentv2/vpcpay.html", pay_page, methods=["GET"]),
    Route(f"{PREFIX}/paymentv2/pay", pay, methods=["POST"]),
    Route(f"{PREFIX}/merchant_webapi/api/transaction", merchant_api, methods=["POST"]),
    *switch_routes(PREFIX, "vnpay_simulator"),
    *fault_routes(PREFIX, "vnpay_simulator"),
]
