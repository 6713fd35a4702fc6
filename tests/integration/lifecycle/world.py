"""The world outside the gateway: what each provider knows and says.

Pure Python, no gateway state. Per attempt the provider's truth (open, paid, failed); every
message a provider sent (signed with the real protocol code, so a tampered copy fails the
gateway's own verification); the providers' answers to status queries, served through
``httpx.MockTransport`` to the real VNPay and MoMo clients (signed querydr answers, echoed
MoMo answers; a provider that is down times out); the refund desks of VNPay and MoMo (a
refund made, refused, pending or lost on the way, answered again from their records).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import httpx

from payments.domain.attempts import Provider, Result
from payments.providers.momo import protocol as momo
from payments.providers.momo.provider import MomoProvider
from payments.providers.vietqr.credit import CreditNotification, encode_notification
from payments.providers.vietqr.provider import VietqrConfig, VietqrProvider
from payments.providers.vnpay import api as vnpay_api
from payments.providers.vnpay import protocol as vnpay
from payments.providers.vnpay.provider import VnpayProvider
from tests.integration.lifecycle.desks import RefundDesk

VNPAY = vnpay.VnpayConfig(
    tmn_code="LIFE0001",
    hash_secret="LIFECYCLESECRETLIFECYCLESECRET12",
    pay_url="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    api_url="https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
)
MOMO = momo.MomoConfig(
    partner_code="MOMOLIFE2025",
    access_key="lifecycleAccess1",
    secret_key="lifecycleSecretKeyForMoMoTests12",
    api_url="https://test-payment.momo.vn",
)
VIETQR = VietqrConfig("970415", "113366668888", "KBNN", "lifecycle-webhook-secret")
MERCHANTS = {
    Provider.VNPAY: VNPAY.tmn_code,
    Provider.MOMO: MOMO.partner_code,
    Provider.VIETQR: f"{VIETQR.bank_bin}:{VIETQR.account_no}",
}
RESULT_CODES = {  # VNPay (vnp_ResponseCode, vnp_TransactionStatus), MoMo resultCode
    Result.SUCCEEDED: (("00", "00"), 0),
    Result.FAILED: (("24", "02"), 1006),
    Result.PENDING: (("99", "01"), 1000),
}


@dataclass
class Truth:
    """What a provider knows about one of our attempts."""

    provider: Provider
    ref: str
    payment_id: str
    amount: int
    currency: str
    state: Result | None = None  # None: the payer never finished; else paid / failed
    paid_at: datetime | None = None
    txn: str = ""


@dataclass(frozen=True)
class Taking:
    """Money a provider took for a payment (its first capture): what reaches the treasury."""

    payment_id: str
    provider: Provider
    ref: str
    at: datetime


@dataclass(frozen=True)
class Message:
    """A server-to-server message as the provider signed it (VNPay params, MoMo body)."""

    provider: Provider
    ref: str
    result: Result
    amount: int
    payload: dict[str, object]


@dataclass(frozen=True)
class Credit:
    """A VietQR credit notification as the collection bank signed it."""

    transfer_id: str
    ref: str
    amount: int
    currency: str
    body: bytes
    signature: str


def tampered(message: Message) -> dict[str, object]:
    """The message with a signed field changed after signing: not what the provider sent."""
    if message.provider is Provider.VNPAY:
        return {**message.payload, "vnp_Amount": vnpay.to_wire_amount(message.amount + 1000)}
    return {**message.payload, "amount": message.amount + 1000}


class World:
    def __init__(self) -> None:
        self.truth: dict[str, Truth] = {}
        self.takings: dict[str, Taking] = {}  # by payment id
        self.taken: list[Truth] = []  # every attempt a provider took money for, in order
        self.credited: Counter[str] = Counter()  # VietQR: received per reference
        self.messages: list[Message] = []
        self.credits: list[Credit] = []
        self.down: set[Provider] = set()
        self.desks = {Provider.VNPAY: RefundDesk(), Provider.MOMO: RefundDesk()}
        self.txns = 14_000_000
        self.http = [
            httpx.AsyncClient(transport=httpx.MockTransport(self._vnpay_api)),
            httpx.AsyncClient(transport=httpx.MockTransport(self._momo_api)),
        ]
        self.vnpay = VnpayProvider(VNPAY, self.http[0])
        self.momo = MomoProvider(MOMO, self.http[1])
        self.vietqr = VietqrProvider(VIETQR)

    def provider(self, name: Provider) -> VnpayProvider | MomoProvider | VietqrProvider:
        if name is Provider.VNPAY:
            return self.vnpay
        return self.momo if name is Provider.MOMO else self.vietqr

    async def close(self) -> None:
        for http in self.http:
            await http.aclose()

    def next_txn(self) -> str:
        self.txns += 1
        return str(self.txns)

    def pay(self, truth: Truth, result: Result, now: datetime) -> None:
        """The payer finishes at the provider: paid (money taken) or failed."""
        truth.state, truth.txn = result, self.next_txn()
        if result is Result.SUCCEEDED:
            truth.paid_at = now
            self.took(truth, now)

    def took(self, truth: Truth, now: datetime) -> None:
        self.taken.append(truth)
        if truth.payment_id not in self.takings:
            self.takings[truth.payment_id] = Taking(
                truth.payment_id, truth.provider, truth.ref, now
            )

    # --- what providers say -----------------------------------------------------------------

    def say(self, truth: Truth, result: Result, now: datetime, amount: int | None = None) -> None:
        """The provider sends a signed message about ``truth`` (``amount``: a wrong one)."""
        said = truth.amount if amount is None else amount
        txn = truth.txn or self.next_txn()
        (vnp_code, vnp_status), momo_code = RESULT_CODES[result]
        payload: dict[str, object]
        if truth.provider is Provider.VNPAY:
            payload = dict(
                vnpay.callback_params(
                    VNPAY,
                    txn_ref=truth.ref,
                    amount=said,
                    response_code=vnp_code,
                    transaction_status=vnp_status,
                    transaction_no=txn,
                    bank_code="NCB",
                    order_info=f"Thanh toan {truth.ref}",
                    pay_date=truth.paid_at or now,
                )
            )
        else:
            millis = int((truth.paid_at or now).timestamp() * 1000)
            payload = momo.sign_ipn(
                MOMO,
                {
                    "partnerCode": MOMO.partner_code,
                    "orderId": truth.ref,
                    "requestId": f"req-{len(self.messages)}",
                    "amount": said,
                    "orderInfo": "Nop phi",
                    "orderType": "momo_wallet",
                    "transId": int(txn),
                    "resultCode": momo_code,
                    "message": result.value,
                    "payType": "qr",
                    "responseTime": millis,
                    "extraData": "",
                },
            )
        self.messages.append(Message(truth.provider, truth.ref, result, said, payload))

    def transfer(self, ref: str, amount: int, currency: str, now: datetime) -> Credit:
        """The collection bank notifies a credit whose description carries ``ref``."""
        transfer_id = f"FT{self.next_txn()}"
        notification = CreditNotification(
            transfer_id, amount, currency, f"NOP PHI {ref} HS", credited_at=now
        )
        body, signature = encode_notification(VIETQR.webhook_secret, notification)
        credit = Credit(transfer_id, ref, amount, currency, body, signature)
        self.credits.append(credit)
        truth = self.truth.get(ref)
        if truth is not None and currency == truth.currency and truth.state is None:
            self.credited[ref] += amount
            if self.credited[ref] >= truth.amount:
                truth.state, truth.paid_at, truth.txn = Result.SUCCEEDED, now, transfer_id
                self.took(truth, now)
        return credit

    # --- status queries ---------------------------------------------------------------------

    def _vnpay_api(self, request: httpx.Request) -> httpx.Response:
        if Provider.VNPAY in self.down:
            raise httpx.ReadTimeout("provider down", request=request)
        body = json.loads(request.content)
        assert vnpay_api.verify_querydr_request(VNPAY, body), body  # we sign what we ask
        ref = str(body["vnp_TxnRef"])
        truth = self.truth.get(ref)
        fields = {
            "vnp_ResponseId": f"r{len(self.messages)}",
            "vnp_Command": "querydr",
            "vnp_TmnCode": VNPAY.tmn_code,
            "vnp_TxnRef": ref,
        }
        if truth is None or truth.state is None:
            fields.update(vnp_ResponseCode="91", vnp_Message="Transaction not found")
        else:
            (_, status), _ = RESULT_CODES[truth.state]
            fields.update(
                vnp_ResponseCode="00",
                vnp_Message="QueryDR Success",
                vnp_Amount=vnpay.to_wire_amount(truth.amount),
                vnp_BankCode="NCB",
                vnp_PayDate=vnpay.to_wire_date(truth.paid_at) if truth.paid_at else "",
                vnp_TransactionNo=truth.txn,
                vnp_TransactionType="01",
                vnp_TransactionStatus=status,
                vnp_OrderInfo=f"Thanh toan {ref}",
            )
        return httpx.Response(200, json=vnpay_api.sign_querydr_response(VNPAY, fields))

    def _momo_api(self, request: httpx.Request) -> httpx.Response:
        if Provider.MOMO in self.down:
            raise httpx.ReadTimeout("provider down", request=request)
        body = json.loads(request.content)
        assert momo.verify_query_request(MOMO, body), body
        truth = self.truth.get(str(body["orderId"]))
        answer: dict[str, object] = {
            "partnerCode": MOMO.partner_code,
            "orderId": body["orderId"],
            "requestId": body["requestId"],
            "payType": "qr",
            "refundTrans": [],
        }
        if truth is None or truth.state is None:
            answer.update(resultCode=1000, message="initiated")
        else:
            _, code = RESULT_CODES[truth.state]
            answer.update(resultCode=code, message=truth.state.value, amount=truth.amount)
            answer.update(transId=int(truth.txn))
        return httpx.Response(200, json=answer)
