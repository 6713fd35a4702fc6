"""Refunds at the provider: what we ask for and every way the answer can come back.

The caller (the refunds service) owns the refund and its ``request_id``. The id is stable: a
retry after a timeout sends the same id, and every provider (or simulator) treats a repeated id
as the same refund, never a second one. ``requested_at`` is stable as well: VNPay addresses a
refund in its status query by the refund's create date, so a retry must send the same one.

Outcomes of ``PaymentProvider.refund`` and ``refund_status``:

    RefundSucceeded   the provider took the refund: money is on its way back to the payer
    RefundFailed      the provider refused it (its code and message): no money moved
    RefundPending     the provider has it and has not finished: ask again later
    RefundUnknown     no usable answer (timeout, 5xx, a body we cannot trust): the refund may or
                      may not have happened; settle it with ``refund_status``, never by a new id
    RefundSubmitted   VietQR only: there is no provider API, so the "refund" is an outgoing bank
                      transfer instruction that people carry out; it stays submitted until an
                      operator or the statement reconciliation confirms it
    RefundNotFound    status query only: the provider has no record of this request id. The
                      request never arrived, so sending the refund again with the same id is safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from payments.domain.attempts import Attempt

# Usable as a VNPay vnp_RequestId and as a MoMo requestId and (refund) orderId.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.-]{1,50}")


@dataclass(frozen=True)
class RefundRequest:
    attempt: Attempt  # the attempt that captured the money (its provider reference and txn id)
    amount: int  # VND, whole đồng: VND has no minor unit
    full: bool  # the whole captured amount in one refund (VNPay type 02), else partial (03)
    request_id: str  # stable across retries: the same id is the same refund
    reason: str
    actor: str  # the officer who asked, sent where the protocol has room for it
    requested_at: datetime  # aware UTC; when the refund was first sent, stable across retries

    def __post_init__(self) -> None:
        # Caller mistakes, not provider trouble: they raise instead of becoming an outcome.
        if type(self.amount) is not int or self.amount <= 0:
            raise ValueError("a refund amount is a positive whole number of VND")
        if self.amount > self.attempt.amount:
            raise ValueError("a refund cannot exceed the captured amount")
        if self.full and self.amount != self.attempt.amount:
            raise ValueError("a full refund is of the whole captured amount")
        if not _REQUEST_ID.fullmatch(self.request_id):
            raise ValueError("request_id must be 1 to 50 letters, digits, '-', '_' or '.'")
        if self.requested_at.utcoffset() is None:
            raise ValueError("requested_at must be an aware datetime")


@dataclass(frozen=True)
class RefundSucceeded:
    amount: int  # VND, as the provider confirmed it
    provider_refund_id: str  # the provider's number for the refund transaction ("" if none)
    code: str


@dataclass(frozen=True)
class RefundFailed:
    code: str  # the provider's code, or ``not_sent`` when we refused to send the request
    message: str


@dataclass(frozen=True)
class RefundPending:
    code: str
    message: str


@dataclass(frozen=True)
class RefundUnknown:
    reason: str


@dataclass(frozen=True)
class TransferInstruction:
    """An outgoing bank transfer for people to make: from our collection account, this amount,
    with ``reference`` in the description so the statement shows which refund it was. The
    payer's account is not known from an incoming credit; finance supplies it."""

    from_bank_bin: str
    from_account_no: str
    amount: int  # VND
    reference: str  # the refund's request id
    description: str
    original_transfer_id: str  # the bank's id of the credit being returned ("" if unknown)


@dataclass(frozen=True)
class RefundSubmitted:
    instruction: TransferInstruction


@dataclass(frozen=True)
class RefundNotFound:
    detail: str


RefundOutcome = RefundSucceeded | RefundFailed | RefundPending | RefundUnknown | RefundSubmitted
RefundStatus = RefundOutcome | RefundNotFound
