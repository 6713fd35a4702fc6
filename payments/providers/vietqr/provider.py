"""VietQR bank transfer behind the provider interface.

There is no provider page to redirect to: the payer scans our QR page and transfers from any
banking app; the collection bank then notifies each credit (``vietqr.credit``). A bank offers
no status query for a transfer reference, so open attempts are settled by credits and by the
statement reconciliation, never by ``query_status``.

Refunds have no API either: ``refund`` answers ``RefundSubmitted`` with an outgoing transfer
instruction (from our collection account, the amount, the refund's request id as reference) for
finance to carry out. It stays submitted until an operator or the reconciliation confirms it, so
``refund_status`` can only repeat it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from payments.domain.attempts import Attempt, Provider, ProviderOutcome, Verdict
from payments.domain.credits import REFERENCE_PATTERN
from payments.domain.errors import FieldProblem, InvalidInput
from payments.domain.payments import currency_problem
from payments.providers.interface import Acknowledgement, CheckoutRequest, Redirect
from payments.providers.outcomes import Rejected, Rejection, Unknown
from payments.providers.payer_reasons import PayerReason
from payments.providers.refunds import (
    RefundRequest,
    RefundSubmitted,
    TransferInstruction,
)
from payments.providers.vietqr import credit as vietqr_credit
from payments.providers.vietqr import qr as vietqr


@dataclass(frozen=True)
class VietqrConfig:
    bank_bin: str
    account_no: str
    account_name: str
    webhook_secret: str = field(repr=False)


class VietqrProvider:
    currencies = vietqr.CURRENCIES
    # no query: each transfer instruction carries its refund's request id
    refunds_told_apart = True

    def __init__(self, config: VietqrConfig) -> None:
        self.config = config

    @property
    def name(self) -> Provider:
        return Provider.VIETQR

    @property
    def merchant(self) -> str:
        return f"{self.config.bank_bin}:{self.config.account_no}"

    async def start_checkout(self, request: CheckoutRequest) -> Redirect | Unknown:
        problem = currency_problem(request.attempt.currency, self.currencies)
        if problem:
            raise InvalidInput([FieldProblem("currency", f"VietQR cannot take it: {problem}")])
        # Our own transfer page, in the payer's language (as VNPay's and MoMo's pages are).
        lang = "en" if request.language == "en" else "vi"
        return Redirect(f"{request.checkout_url}/vietqr/{request.attempt.id}?lang={lang}")

    def payload(self, attempt: Attempt, amount: int | None = None) -> str:
        """The dynamic QR payload: our account, the amount (``amount``, when only the rest of
        a transfer that came in part is due; else the attempt's), the attempt's reference."""
        return vietqr.build_payload(
            bank_bin=self.config.bank_bin,
            account=self.config.account_no,
            amount=attempt.amount if amount is None else amount,
            currency=attempt.currency,
            purpose=attempt.provider_ref,
        )

    def verify_credit(
        self, body: bytes, signature: str | None
    ) -> vietqr_credit.CreditNotification | Rejected:
        return vietqr_credit.verify_notification(self.config.webhook_secret, body, signature)

    def reference_of(self, params: Mapping[str, object]) -> str | None:
        description = params.get("description")
        if not isinstance(description, str):
            return None
        return vietqr.find_reference(description, REFERENCE_PATTERN)

    def verify_callback(self, params: Mapping[str, object]) -> ProviderOutcome | Rejected:
        # Credits are signed over the raw body bytes: see verify_credit.
        return Rejected(Rejection.MALFORMED, "credit notifications are verified on raw bytes")

    async def query_status(
        self, attempt: Attempt, *, now: datetime
    ) -> ProviderOutcome | Rejected | Unknown:
        return Unknown("bank transfers cannot be queried; reconciliation settles them")

    def transfer_instruction(self, request: RefundRequest) -> TransferInstruction:
        return TransferInstruction(
            from_bank_bin=self.config.bank_bin,
            from_account_no=self.config.account_no,
            amount=request.amount,
            reference=request.request_id,
            # Banks keep short ASCII descriptions: the request id first, so it survives cuts.
            description=f"{request.request_id} HOAN TIEN {request.attempt.provider_ref}",
            original_transfer_id=request.attempt.provider_txn_id or "",
        )

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundSubmitted:
        return RefundSubmitted(self.transfer_instruction(request))

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundSubmitted:
        return RefundSubmitted(self.transfer_instruction(request))

    def payer_reason(self, result_code: str) -> PayerReason | None:
        return None  # a transfer does not fail: it arrives (in full, in part) or it does not

    def acknowledge(
        self, *, verdict: Verdict | None, rejection: Rejected | None
    ) -> Acknowledgement:
        if rejection is not None:
            return Acknowledgement(401 if rejection.reason is not Rejection.MALFORMED else 400)
        if verdict is None:
            return Acknowledgement(500)  # the bank retries until it gets a 2xx
        return Acknowledgement(200, {"status": verdict.value})
