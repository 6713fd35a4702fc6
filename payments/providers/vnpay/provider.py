"""VNPay 2.1.0 behind the provider interface: signed pay redirect, IPN, querydr, refund."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from payments.domain.attempts import Attempt, Provider, ProviderOutcome, Result, Verdict
from payments.providers.interface import Acknowledgement, CheckoutRequest, Redirect
from payments.providers.outcomes import Rejected, Rejection, Unknown
from payments.providers.payer_reasons import PayerReason
from payments.providers.refunds import RefundOutcome, RefundRequest, RefundStatus
from payments.providers.vnpay import protocol as vnpay
from payments.providers.vnpay import refunds as vnpay_refunds
from payments.providers.vnpay.api import TIMEOUT_SECONDS, VnpayApiClient

# VNPay's own page times out; we ask for at most this long, never beyond the payment's expiry.
PAY_WINDOW = timedelta(minutes=15)
SERVER_IP = "127.0.0.1"  # what we report as vnp_IpAddr for server-side queries
PENDING_STATUS = "01"  # vnp_TransactionStatus: not completed yet
NOT_FOUND = "91"  # querydr: VNPay has no such transaction (the payer never paid)


def order_info(attempt: Attempt, reference: str) -> str:
    return f"Thanh toan {reference} {attempt.id}"


class VnpayProvider:
    currencies = vnpay.CURRENCIES
    # querydr finds a refund by the payment and its create second, not by our id
    refunds_told_apart = False

    def __init__(
        self,
        config: vnpay.VnpayConfig,
        http: httpx.AsyncClient,
        *,
        timeout_seconds: int = TIMEOUT_SECONDS,
    ) -> None:
        self._config = config
        self._api = VnpayApiClient(config, http, timeout_seconds=timeout_seconds)

    @property
    def name(self) -> Provider:
        return Provider.VNPAY

    @property
    def merchant(self) -> str:
        return self._config.tmn_code

    async def start_checkout(self, request: CheckoutRequest) -> Redirect | Unknown:
        expires_at = min(request.payment.expires_at, request.now + PAY_WINDOW)
        url = vnpay.build_pay_url(
            self._config,
            txn_ref=request.attempt.provider_ref,
            amount=request.attempt.amount,
            currency=request.attempt.currency,
            order_info=order_info(request.attempt, request.payment.draft.reference),
            return_url=request.return_url,
            ip_addr=request.payer_ip,
            created_at=request.attempt.created_at,
            expires_at=expires_at,
            locale="en" if request.language == "en" else "vn",
        )
        return Redirect(url)

    def reference_of(self, params: Mapping[str, object]) -> str | None:
        ref = params.get("vnp_TxnRef")
        return ref if isinstance(ref, str) and ref else None

    def verify_callback(self, params: Mapping[str, object]) -> ProviderOutcome | Rejected:
        # VNPay parameters are query-string text; anything else cannot be what VNPay signed.
        texts = {key: value for key, value in params.items() if isinstance(value, str)}
        checked = vnpay.verify_callback(self._config, texts)
        if isinstance(checked, Rejected):
            return checked
        if checked.paid:
            result = Result.SUCCEEDED
        elif checked.transaction_status == PENDING_STATUS:
            result = Result.PENDING
        else:
            result = Result.FAILED
        return ProviderOutcome(
            provider=Provider.VNPAY,
            provider_ref=checked.txn_ref,
            merchant=self._config.tmn_code,  # verify_callback refused any other terminal
            amount=checked.amount,
            currency=vnpay.CURRENCY,
            result=result,
            result_code=f"{checked.response_code}/{checked.transaction_status}",
            provider_txn_id=checked.transaction_no,
            occurred_at=checked.pay_date,
        )

    async def query_status(
        self, attempt: Attempt, *, now: datetime
    ) -> ProviderOutcome | Rejected | Unknown:
        answer = await self._api.querydr(
            txn_ref=attempt.provider_ref,
            order_info=f"Query {attempt.provider_ref}",
            transaction_date=attempt.created_at,
            now=now,
            ip_addr=SERVER_IP,
        )
        if isinstance(answer, Rejected | Unknown):
            return answer
        if answer.response_code == NOT_FOUND:
            result = Result.PENDING
        elif answer.response_code != "00":
            return Unknown(f"querydr answered {answer.response_code}")
        elif answer.paid:
            result = Result.SUCCEEDED
        elif answer.transaction_status == PENDING_STATUS:
            result = Result.PENDING
        else:
            result = Result.FAILED
        if answer.amount is None and result is Result.SUCCEEDED:
            return Rejected(Rejection.MALFORMED, "a paid querydr answer carries no amount")
        return ProviderOutcome(
            provider=Provider.VNPAY,
            provider_ref=attempt.provider_ref,
            merchant=self._config.tmn_code,
            amount=attempt.amount if answer.amount is None else answer.amount,
            currency=vnpay.CURRENCY,
            result=result,
            result_code=f"{answer.response_code}/{answer.transaction_status}",
            provider_txn_id=answer.transaction_no,
            occurred_at=answer.pay_date,
        )

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        return await vnpay_refunds.refund(self._api, request, ip_addr=SERVER_IP)

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundStatus:
        return await vnpay_refunds.refund_status(self._api, request, now=now, ip_addr=SERVER_IP)

    def payer_reason(self, result_code: str) -> PayerReason | None:
        return vnpay.payer_reason(result_code)

    def acknowledge(
        self, *, verdict: Verdict | None, rejection: Rejected | None
    ) -> Acknowledgement:
        return Acknowledgement(200, ipn_answer(verdict, rejection).body())


def ipn_answer(verdict: Verdict | None, rejection: Rejected | None) -> vnpay.IpnAnswer:
    """The documented check order: signature, order, amount, already processed, apply."""
    if rejection is not None:
        if rejection.reason in (Rejection.MISSING_SIGNATURE, Rejection.BAD_SIGNATURE):
            return vnpay.IpnAnswer.INVALID_SIGNATURE
        if rejection.reason is Rejection.WRONG_MERCHANT:
            return vnpay.IpnAnswer.ORDER_NOT_FOUND  # not an order of our terminal
        return vnpay.IpnAnswer.UNKNOWN_ERROR
    if verdict is None:
        return vnpay.IpnAnswer.UNKNOWN_ERROR
    return vnpay.decide_ipn_answer(
        signature_ok=True,
        order_found=verdict is not Verdict.NOT_FOUND,
        amount_matches=verdict is not Verdict.REFUSED,
        already_processed=verdict in (Verdict.DUPLICATE, Verdict.IGNORED),
    )
