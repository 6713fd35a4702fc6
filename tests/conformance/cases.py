"""The providers under the conformance suite: one ``ProviderCase`` adapter each.

A case says how its provider is reached in the sandbox (the module on a short client timeout,
the simulator's fault switches), how a payer pays there, what a genuine server-to-server
message looks like and how an attacker would bend one, and which capabilities the protocol has.
The tests hold every case to the same rules; where a protocol lacks something, its capability
says so and the tests check that the module admits the lack rather than guessing.
"""

from __future__ import annotations

import json
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from payments.bootstrap import momo_config, vietqr_config, vnpay_config
from payments.domain.attempts import Attempt, AttemptStatus, Provider, Result
from payments.http.container import Container
from payments.providers.interface import PaymentProvider
from payments.providers.momo import protocol as momo
from payments.providers.momo.provider import MomoProvider
from payments.providers.vietqr import qr as vietqr
from payments.providers.vietqr.credit import (
    SIGNATURE_HEADER,
    CreditNotification,
    encode_notification,
)
from payments.providers.vietqr.provider import VietqrProvider
from payments.providers.vnpay import protocol as vnpay
from payments.providers.vnpay.provider import VnpayProvider
from payments.sandbox.faults import Faults
from payments.sandbox.refunds import RefundBook, RefundState
from tests.conformance.sandbox import Message, Sandbox
from tests.support.api import BASE_URL

FOREIGN_MERCHANT = "OTHERMERCHANT"  # a merchant code that is not ours at any provider
FOREIGN_SECRET = "another-merchants-secret-0123456789"  # a key the simulators do not hold


class RefundKind(StrEnum):
    API = "api"  # the provider refunds through its API and its status query tells what became of it
    TRANSFER_INSTRUCTION = "transfer instruction"  # people make an outgoing bank transfer


class Tamper(StrEnum):
    SIGNATURE = "signature"  # the signature itself altered
    CONTENT = "content"  # the amount raised after signing, the signature kept
    UNSIGNED = "unsigned"  # the signature left out


@dataclass(frozen=True)
class Operations:
    """The simulator's fault-switch name of the call each method makes (None: no call)."""

    start: str | None
    query: str | None
    refund: str | None
    refund_status: str | None


@dataclass(frozen=True)
class Told:
    """What the provider was told to charge, as the payer meets it."""

    reference: str
    amount: int  # minor units


class ProviderCase(ABC):
    id: ClassVar[str]  # the test id
    name: ClassVar[Provider]
    operations: ClassVar[Operations]
    # Capabilities of the protocol (the tests check the module admits each lack):
    has_query: ClassVar[bool]  # a status query for an attempt
    never_seen: ClassVar[Result | None]  # what that query says of an attempt it never got
    refunds_told_apart: ClassVar[bool]  # the refund status names our refund, not only its payment
    refund_kind: ClassVar[RefundKind]
    merchant_in_message: ClassVar[bool]  # a callback names the merchant (else only its key does)
    amount_is_what_arrived: ClassVar[bool]  # a callback's amount is money received, not a claim

    @abstractmethod
    def provider(
        self, container: Container, *, timeout_seconds: int, secret: str | None = None
    ) -> PaymentProvider:
        """The module under test, talking to the simulator (``secret``: other credentials)."""

    @abstractmethod
    def faults(self, sandbox: Sandbox) -> Faults | None:
        """The simulator's fault switches (None: the provider is never called)."""

    @abstractmethod
    async def told(self, sandbox: Sandbox, location: str) -> Told:
        """Read the reference and amount off the page the checkout sent the payer to."""

    @abstractmethod
    async def pay(self, sandbox: Sandbox, location: str) -> None:
        """Pay in full at the simulator, which then tells the gateway as the provider would."""

    @abstractmethod
    def callback(
        self, sandbox: Sandbox, attempt: Attempt, *, amount: int, reference: str, foreign: bool
    ) -> Message:
        """A genuine "paid" message about ``reference`` (``foreign``: another merchant's)."""

    @abstractmethod
    def tampered(self, message: Message, how: Tamper) -> Message: ...

    @abstractmethod
    def acknowledged(self, answer: httpx.Response) -> bool:
        """Whether the gateway's answer tells the provider the message was taken."""

    @abstractmethod
    def refunded(self, sandbox: Sandbox, attempt: Attempt) -> list[int]:
        """The refunds of ``attempt`` the provider itself has made or is making."""

    async def choose(self, sandbox: Sandbox, payment: Mapping[str, Any]) -> str:
        """Choose this provider at checkout and open the page it sends the payer to."""
        answer = await sandbox.http.post(
            path_of(payment["checkout_url"]),
            data={"provider": self.name.value, "lang": "vi"},
            headers={"Origin": BASE_URL},
        )
        assert answer.status_code == 303, answer.text
        location: str = answer.headers["location"]
        opened = await sandbox.http.get(path_of(location))
        assert opened.status_code == 200, opened.text
        return location

    async def opened(self, sandbox: Sandbox, **payment: Any) -> tuple[str, Attempt]:
        """A new payment's attempt at this provider, the payer on its page, not paid yet."""
        created = await sandbox.new_payment(**payment)
        location = await self.choose(sandbox, created)
        return location, await sandbox.attempt(created["id"])

    async def paid(self, sandbox: Sandbox) -> Attempt:
        """An attempt paid at the simulator and recorded by the gateway as succeeded."""
        location, attempt = await self.opened(sandbox)
        await self.pay(sandbox, location)
        paid = await sandbox.attempt(attempt.payment_id)
        assert paid.status is AttemptStatus.SUCCEEDED, paid
        return paid


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def flipped(signature: str) -> str:
    """The same signature with its last character changed."""
    return signature[:-1] + ("0" if signature[-1:] != "0" else "1")


def made_refunds(book: RefundBook, paid_ref: str) -> list[int]:
    return [r.amount for r in book.of(paid_ref) if r.state is not RefundState.FAILED]


class VnpayCase(ProviderCase):
    id = "vnpay"
    name = Provider.VNPAY
    operations = Operations(start=None, query="querydr", refund="refund", refund_status="querydr")
    has_query = True
    never_seen = Result.PENDING  # 91: the payer has not been to VNPay's page (yet)
    refunds_told_apart = False  # querydr finds a refund by its payment and its create second
    refund_kind = RefundKind.API
    merchant_in_message = True
    amount_is_what_arrived = False

    def provider(
        self, container: Container, *, timeout_seconds: int, secret: str | None = None
    ) -> PaymentProvider:
        config = vnpay_config(container.settings)
        if secret is not None:
            config = replace(config, hash_secret=secret)
        return VnpayProvider(config, container.http, timeout_seconds=timeout_seconds)

    def faults(self, sandbox: Sandbox) -> Faults | None:
        return sandbox.vnpay.faults

    async def told(self, sandbox: Sandbox, location: str) -> Told:
        params = query_of(location)
        assert params["vnp_CurrCode"] == "VND"
        return Told(params["vnp_TxnRef"], vnpay.from_wire_amount(params["vnp_Amount"]))

    async def pay(self, sandbox: Sandbox, location: str) -> None:
        form = {"txn_ref": query_of(location)["vnp_TxnRef"], "outcome": "success"}
        answer = await sandbox.http.post("/sandbox/vnpay/paymentv2/pay", data=form)
        assert answer.status_code == 303, answer.text

    def callback(
        self, sandbox: Sandbox, attempt: Attempt, *, amount: int, reference: str, foreign: bool
    ) -> Message:
        config = sandbox.vnpay.config
        if foreign:  # signed with our secret, naming another terminal
            config = replace(config, tmn_code=FOREIGN_MERCHANT)
        params = vnpay.callback_params(
            config,
            txn_ref=reference,
            amount=amount,
            response_code="00",
            transaction_status="00",
            transaction_no=str(14_000_000 + secrets.randbelow(1_000_000)),
            bank_code="NCB",
            order_info=f"Thanh toan {reference}",
            pay_date=datetime.now(UTC),
        )
        return Message("GET", "/callbacks/vnpay/ipn", params=params)

    def tampered(self, message: Message, how: Tamper) -> Message:
        params = dict(message.params)
        if how is Tamper.SIGNATURE:
            params["vnp_SecureHash"] = flipped(params["vnp_SecureHash"])
        elif how is Tamper.CONTENT:
            params["vnp_Amount"] = str(int(params["vnp_Amount"]) + 100_000)
        else:
            del params["vnp_SecureHash"]
        return replace(message, params=params)

    def acknowledged(self, answer: httpx.Response) -> bool:
        # 00 confirmed, 02 already confirmed: both tell VNPay to stop sending it.
        return answer.status_code == 200 and answer.json().get("RspCode") in ("00", "02")

    def refunded(self, sandbox: Sandbox, attempt: Attempt) -> list[int]:
        return made_refunds(sandbox.vnpay.refunds, attempt.provider_ref)


class MomoCase(ProviderCase):
    id = "momo"
    name = Provider.MOMO
    operations = Operations(start="create", query="query", refund="refund", refund_status="query")
    has_query = True
    never_seen = Result.FAILED  # 42: no such order, and only create makes one payable
    refunds_told_apart = True  # the query lists the order's refunds by their order ids (ours)
    refund_kind = RefundKind.API
    merchant_in_message = True
    amount_is_what_arrived = False

    def provider(
        self, container: Container, *, timeout_seconds: int, secret: str | None = None
    ) -> PaymentProvider:
        config = momo_config(container.settings)
        if secret is not None:
            config = replace(config, secret_key=secret)
        return MomoProvider(config, container.http, timeout_seconds=timeout_seconds)

    def faults(self, sandbox: Sandbox) -> Faults | None:
        return sandbox.momo.faults

    async def told(self, sandbox: Sandbox, location: str) -> Told:
        # The payUrl names the order; its amount is what create told MoMo to charge.
        order_id = query_of(location)["orderId"]
        return Told(order_id, sandbox.momo.orders[order_id].amount)

    async def pay(self, sandbox: Sandbox, location: str) -> None:
        form = {"order_id": query_of(location)["orderId"], "outcome": "success"}
        answer = await sandbox.http.post("/sandbox/momo/pay", data=form)
        assert answer.status_code == 303, answer.text

    def callback(
        self, sandbox: Sandbox, attempt: Attempt, *, amount: int, reference: str, foreign: bool
    ) -> Message:
        config = sandbox.momo.config
        fields = momo.sign_ipn(
            config,
            {
                "partnerCode": FOREIGN_MERCHANT if foreign else config.partner_code,
                "orderId": reference,
                "requestId": "req_" + secrets.token_hex(8),
                "amount": amount,
                "orderInfo": f"Thanh toan {reference}",
                "orderType": "momo_wallet",
                "transId": 3_000_000_000 + secrets.randbelow(1_000_000_000),
                "resultCode": 0,
                "message": "success",
                "payType": "qr",
                "responseTime": int(datetime.now(UTC).timestamp() * 1000),
                "extraData": "",
            },
        )
        return self._json_message(fields)

    @staticmethod
    def _json_message(fields: Mapping[str, object]) -> Message:
        return Message(
            "POST",
            "/callbacks/momo/ipn",
            body=json.dumps(dict(fields)).encode(),
            headers={"Content-Type": "application/json"},
        )

    def tampered(self, message: Message, how: Tamper) -> Message:
        fields: dict[str, Any] = json.loads(message.body)
        if how is Tamper.SIGNATURE:
            fields["signature"] = flipped(fields["signature"])
        elif how is Tamper.CONTENT:
            fields["amount"] += 1_000
        else:
            del fields["signature"]
        return self._json_message(fields)

    def acknowledged(self, answer: httpx.Response) -> bool:
        return answer.status_code == momo.IPN_ACK_STATUS

    def refunded(self, sandbox: Sandbox, attempt: Attempt) -> list[int]:
        return made_refunds(sandbox.momo.refunds, attempt.provider_ref)


_PAYLOAD = re.compile(r'<textarea id="payload"[^>]*>([^<]+)</textarea>')


class VietqrCase(ProviderCase):
    id = "vietqr"
    name = Provider.VIETQR
    # The payer transfers from any banking app: the gateway never calls the bank.
    operations = Operations(start=None, query=None, refund=None, refund_status=None)
    has_query = False  # a bank offers no status query for a transfer reference
    never_seen = None
    refunds_told_apart = True  # each transfer instruction carries its refund's request id
    refund_kind = RefundKind.TRANSFER_INSTRUCTION
    merchant_in_message = False  # the credit names no account: the webhook key is ours alone
    amount_is_what_arrived = True  # payers under- and over-pay; neither is a forgery

    def provider(
        self, container: Container, *, timeout_seconds: int, secret: str | None = None
    ) -> PaymentProvider:
        config = vietqr_config(container.settings)
        if secret is not None:
            config = replace(config, webhook_secret=secret)
        return VietqrProvider(config)

    def faults(self, sandbox: Sandbox) -> Faults | None:
        return None

    async def told(self, sandbox: Sandbox, location: str) -> Told:
        page = await sandbox.http.get(path_of(location))
        assert page.status_code == 200, page.text
        found = _PAYLOAD.search(page.text)
        assert found is not None, "the QR page shows no payload"
        payload = vietqr.parse_payload(found.group(1))
        assert payload.dynamic  # one payment, this amount
        assert payload.amount is not None
        return Told(payload.purpose, payload.amount)

    async def pay(self, sandbox: Sandbox, location: str) -> None:
        told = await self.told(sandbox, location)
        form = {"reference": told.reference, "choice": "exact", "back": path_of(location)}
        answer = await sandbox.http.post("/sandbox/vietqr/transfer", data=form)
        assert answer.status_code == 303, answer.text

    def callback(
        self, sandbox: Sandbox, attempt: Attempt, *, amount: int, reference: str, foreign: bool
    ) -> Message:
        # Another account's credit would come signed with that account's key, not ours.
        secret = FOREIGN_SECRET if foreign else sandbox.container.settings.vietqr.webhook_secret
        credit = CreditNotification(
            transfer_id="FT" + secrets.token_hex(6).upper(),
            amount=amount,
            currency=attempt.currency,
            description=f"NOP PHI {reference} CHUYEN KHOAN",
            credited_at=datetime.now(UTC),
        )
        body, signature = encode_notification(secret, credit)
        headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
        return Message("POST", "/callbacks/vietqr", body=body, headers=headers)

    def tampered(self, message: Message, how: Tamper) -> Message:
        headers = dict(message.headers)
        if how is Tamper.SIGNATURE:
            headers[SIGNATURE_HEADER] = flipped(headers[SIGNATURE_HEADER])
            return replace(message, headers=headers)
        if how is Tamper.CONTENT:
            fields = json.loads(message.body)
            fields["amount"] += 1_000
            return replace(message, body=json.dumps(fields).encode())
        del headers[SIGNATURE_HEADER]
        return replace(message, headers=headers)

    def acknowledged(self, answer: httpx.Response) -> bool:
        return answer.is_success  # the bank retries until it gets a 2xx

    def refunded(self, sandbox: Sandbox, attempt: Attempt) -> list[int]:
        return []  # the bank moves nothing on its own: people make the transfer


CASES: tuple[ProviderCase, ...] = (VnpayCase(), MomoCase(), VietqrCase())
