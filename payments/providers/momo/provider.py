"""MoMo v2 behind the provider interface: create (payUrl), IPN, query, refund."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

import httpx

from payments.domain.attempts import Attempt, Provider, ProviderOutcome, Result, Verdict
from payments.domain.errors import FieldProblem, InvalidInput
from payments.domain.payments import currency_problem
from payments.providers.interface import Acknowledgement, CheckoutRequest, Redirect
from payments.providers.momo import protocol as momo
from payments.providers.momo import refunds as momo_refunds
from payments.providers.momo.api import TIMEOUT_SECONDS, MomoClient
from payments.providers.outcomes import Rejected, Unknown
from payments.providers.payer_reasons import PayerReason
from payments.providers.refunds import RefundOutcome, RefundRequest, RefundStatus

RESULTS = {
    momo.MomoStatus.SUCCEEDED: Result.SUCCEEDED,
    momo.MomoStatus.PENDING: Result.PENDING,
    momo.MomoStatus.FAILED: Result.FAILED,
}


def new_request_id() -> str:
    return "req_" + secrets.token_hex(16)


class MomoProvider:
    currencies = momo.CURRENCIES
    # query lists the paid order's refunds by their order ids: our request ids
    refunds_told_apart = True

    def __init__(
        self,
        config: momo.MomoConfig,
        http: httpx.AsyncClient,
        *,
        timeout_seconds: int = TIMEOUT_SECONDS,
    ) -> None:
        self._config = config
        self._client = MomoClient(config, http, timeout_seconds=timeout_seconds)

    @property
    def name(self) -> Provider:
        return Provider.MOMO

    @property
    def merchant(self) -> str:
        return self._config.partner_code

    async def start_checkout(self, request: CheckoutRequest) -> Redirect | Unknown:
        # MoMo's create carries no currency: an amount in another one would be taken as dong.
        problem = currency_problem(request.attempt.currency, self.currencies)
        if problem:
            raise InvalidInput([FieldProblem("currency", f"MoMo cannot take it: {problem}")])
        answer = await self._client.create(
            request_id=new_request_id(),
            order_id=request.attempt.provider_ref,
            amount=request.attempt.amount,
            order_info=f"Thanh toan {request.payment.draft.reference}",
            redirect_url=request.return_url,
            ipn_url=request.ipn_url,
            lang="en" if request.language == "en" else "vi",
        )
        if isinstance(answer, Unknown):
            return answer
        if isinstance(answer, Rejected):
            return Unknown(f"create answer rejected: {answer.reason}")
        if not answer.accepted:
            return Unknown(f"create refused with resultCode {answer.result_code}")
        return Redirect(answer.pay_url)

    def reference_of(self, params: Mapping[str, object]) -> str | None:
        ref = params.get("orderId")
        return ref if isinstance(ref, str) and ref else None

    def verify_callback(self, params: Mapping[str, object]) -> ProviderOutcome | Rejected:
        checked = momo.verify_ipn(self._config, params)
        if isinstance(checked, Rejected):
            return checked
        return ProviderOutcome(
            provider=Provider.MOMO,
            provider_ref=checked.order_id,
            merchant=self._config.partner_code,  # verify_ipn refused any other partner
            amount=checked.amount,
            currency=momo.CURRENCY,
            result=RESULTS[checked.status],
            result_code=str(checked.result_code),
            provider_txn_id=str(checked.trans_id),
            occurred_at=checked.response_time,
        )

    async def query_status(
        self, attempt: Attempt, *, now: datetime
    ) -> ProviderOutcome | Rejected | Unknown:
        answer = await self._client.query(
            request_id=new_request_id(), order_id=attempt.provider_ref
        )
        if isinstance(answer, Rejected | Unknown):
            return answer
        result = RESULTS[answer.status]
        if result is Result.SUCCEEDED and answer.amount is None:
            return Unknown("a paid query answer carries no amount")
        return ProviderOutcome(
            provider=Provider.MOMO,
            provider_ref=attempt.provider_ref,
            merchant=self._config.partner_code,
            amount=attempt.amount if answer.amount is None else answer.amount,
            currency=momo.CURRENCY,
            result=result,
            result_code=str(answer.result_code),
            provider_txn_id="" if answer.trans_id is None else str(answer.trans_id),
        )

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        return await momo_refunds.refund(self._client, request)

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundStatus:
        return await momo_refunds.refund_status(self._client, request)

    def payer_reason(self, result_code: str) -> PayerReason | None:
        return momo.payer_reason(result_code)

    def acknowledge(
        self, *, verdict: Verdict | None, rejection: Rejected | None
    ) -> Acknowledgement:
        if rejection is not None:
            return Acknowledgement(400)  # not MoMo's message: nothing to retry
        if verdict is None:
            return Acknowledgement(500)  # our failure: MoMo retries
        return Acknowledgement(momo.IPN_ACK_STATUS)  # every verified message, even refused
