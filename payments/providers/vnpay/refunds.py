"""VNPay refunds: the refund call and its status query, as refund outcomes.

Refund answers (``vnp_ResponseCode``): ``00`` VNPay took the refund (``vnp_TransactionStatus``
``05`` means it is still processing), ``94`` a refund is already pending for the transaction,
``95`` the original payment did not succeed; any other signed code is a refusal.

The status query is ``querydr`` on the paid transaction's ``vnp_TxnRef`` with
``vnp_TransactionDate`` set to the refund's create date (``requested_at``): VNPay then answers
about that refund (``vnp_TransactionType`` ``02``/``03``; ``vnp_TransactionStatus`` ``05``
processing, ``06`` sent to the bank, ``09`` rejected). An answer about the payment itself (type
``01``) means VNPay has no refund from that moment. Two refunds of one payment sent within the
same second cannot be told apart this way: the gateway never lets that happen (one refund of a
payment at VNPay at a time, each in a second of its own), and an answer whose type or amount is
not our refund's is refused rather than guessed at.
"""

from __future__ import annotations

from datetime import datetime

from payments.providers.outcomes import Rejected, Unknown
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundOutcome,
    RefundPending,
    RefundRequest,
    RefundStatus,
    RefundSucceeded,
    RefundUnknown,
)
from payments.providers.vnpay.api import QueryDrAnswer, RefundAnswer, VnpayApiClient

ACCEPTED = "00"
ALREADY_PENDING = "94"
NOT_FOUND = "91"
PROCESSING = "05"
SENT_TO_BANK = "06"
REJECTED = "09"
FULL, PARTIAL = "02", "03"
# Refund answers that say VNPay refused the request and made no refund: 02 bad terminal, 03 bad
# format, 91 no such transaction, 93 more than is left, 95 the payment was not successful, 97
# bad checksum. Anything else that is not a success (99 "other error", a code we do not know)
# says nothing certain: the refund is unknown and its status is asked.
REFUSED = frozenset({"02", "03", "91", "93", "95", "97"})
REFUND_TYPES = frozenset({FULL, PARTIAL})


def _not_usable(answer: Rejected | Unknown) -> RefundUnknown:
    if isinstance(answer, Unknown):
        return RefundUnknown(answer.reason)
    return RefundUnknown(f"answer rejected ({answer.reason.value}): {answer.detail}")


def refund_outcome(request: RefundRequest, answer: RefundAnswer) -> RefundOutcome:
    code = answer.response_code
    if code == ALREADY_PENDING:
        return RefundPending(code, answer.message)
    if code in REFUSED:
        return RefundFailed(code, answer.message)
    if code != ACCEPTED:
        return RefundUnknown(f"refund answered {code}: {answer.message}")
    if answer.transaction_status == PROCESSING:
        return RefundPending(f"{code}/{PROCESSING}", answer.message)
    if answer.transaction_status == REJECTED:
        return RefundFailed(f"{code}/{REJECTED}", answer.message)
    if answer.amount is not None and answer.amount != request.amount:
        return RefundUnknown(f"VNPay confirms {answer.amount} VND, we asked {request.amount}")
    status = answer.transaction_status
    return RefundSucceeded(
        request.amount, answer.transaction_no, f"{code}/{status}" if status else code
    )


def status_outcome(request: RefundRequest, answer: QueryDrAnswer) -> RefundStatus:
    if answer.response_code == NOT_FOUND:
        return RefundNotFound("VNPay does not know the paid transaction")
    if answer.response_code != ACCEPTED:
        return RefundUnknown(f"querydr answered {answer.response_code}")
    if answer.transaction_type not in REFUND_TYPES:
        return RefundNotFound("VNPay has no refund created at the refund's date")
    # The answer names no request id: it is about our refund only if everything it does name
    # is ours (the gateway never has two refunds of one payment at VNPay, or created in one
    # second: services/refund_execution.py), else it is not an answer.
    wanted_type = FULL if request.full else PARTIAL
    if answer.transaction_type != wanted_type:
        return RefundUnknown(
            f"VNPay reports a refund of type {answer.transaction_type} at that date, "
            f"ours is {wanted_type}"
        )
    if answer.amount != request.amount:
        return RefundUnknown(f"VNPay reports a refund of {answer.amount} VND at that date")
    code = f"{answer.response_code}/{answer.transaction_status}"
    if answer.transaction_status == PROCESSING:
        return RefundPending(code, answer.message)
    if answer.transaction_status in (SENT_TO_BANK, ACCEPTED):
        return RefundSucceeded(request.amount, answer.transaction_no, code)
    if answer.transaction_status == REJECTED:
        return RefundFailed(code, answer.message)
    return RefundUnknown(f"refund status {answer.transaction_status}")


async def refund(api: VnpayApiClient, request: RefundRequest, *, ip_addr: str) -> RefundOutcome:
    answer = await api.refund(
        txn_ref=request.attempt.provider_ref,
        amount=request.amount,
        full=request.full,
        transaction_no=request.attempt.provider_txn_id or "0",
        transaction_date=request.attempt.created_at,
        created_by=request.actor,
        order_info=f"Hoan tien {request.request_id} {request.reason}",
        # The first send's date on every retry: the status query finds the refund by it.
        now=request.requested_at,
        ip_addr=ip_addr,
        request_id=request.request_id,
    )
    if isinstance(answer, Rejected | Unknown):
        return _not_usable(answer)
    return refund_outcome(request, answer)


async def refund_status(
    api: VnpayApiClient, request: RefundRequest, *, now: datetime, ip_addr: str
) -> RefundStatus:
    answer = await api.querydr(
        txn_ref=request.attempt.provider_ref,
        order_info=f"Query refund {request.request_id}",
        transaction_date=request.requested_at,
        now=now,
        ip_addr=ip_addr,
    )
    if isinstance(answer, Rejected | Unknown):
        return _not_usable(answer)
    return status_outcome(request, answer)
