"""MoMo refunds: the refund call and its status query, as refund outcomes.

A refund is its own MoMo order: its ``orderId`` and ``requestId`` are both the caller's stable
request id, so a retry is the same refund. ``resultCode`` ``0`` is done, the processing codes
are pending, ``40``/``41`` (duplicate request or order id) say MoMo saw this refund before, so
only the status query can tell what became of it; anything else is a refusal.

The status query is ``query`` on the paid order: its ``refundTrans`` lists the order's refunds
by their order ids.
"""

from __future__ import annotations

import secrets

from payments.providers.momo.api import MomoClient
from payments.providers.momo.protocol import PENDING_CODES, RESULT_MESSAGES
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

DUPLICATE_CODES = frozenset({40, 41})
# Answers that say MoMo refused the refund and made none: 10 maintenance, 11 access denied, 12
# unsupported version, 13 merchant authentication failed, 20 bad request, 21 bad amount, 22
# amount out of range, 42 no such order (the paid transaction), 1080 refund rejected, 1081
# refused (refunded already or more than is left). Any other code (99 unknown error, one we do
# not know) says nothing certain: the refund is unknown and its status is asked.
REFUSED_CODES = frozenset({10, 11, 12, 13, 20, 21, 22, 42, 1080, 1081})


def _not_usable(answer: Rejected | Unknown) -> RefundUnknown:
    if isinstance(answer, Unknown):
        return RefundUnknown(answer.reason)
    return RefundUnknown(f"answer rejected ({answer.reason.value}): {answer.detail}")


def outcome(
    request: RefundRequest,
    *,
    result_code: int,
    message: str,
    amount: int | None,
    trans_id: int | None,
) -> RefundOutcome:
    code = str(result_code)
    if result_code in PENDING_CODES:
        return RefundPending(code, message)
    if result_code in DUPLICATE_CODES:
        return RefundUnknown(f"MoMo saw this refund before ({code}): ask its status")
    if result_code in REFUSED_CODES:
        return RefundFailed(code, message)
    if result_code != 0:
        return RefundUnknown(f"MoMo answered {code} ({message}): ask its status")
    if amount is not None and amount != request.amount:
        return RefundUnknown(f"MoMo confirms {amount} VND, we asked {request.amount}")
    return RefundSucceeded(request.amount, "" if trans_id is None else str(trans_id), code)


def paid_trans_id(request: RefundRequest) -> int | None:
    text = request.attempt.provider_txn_id or ""
    return int(text) if text.isascii() and text.isdigit() else None


async def refund(client: MomoClient, request: RefundRequest) -> RefundOutcome:
    trans_id = paid_trans_id(request)
    if trans_id is None:
        return RefundFailed("not_sent", "the payment has no MoMo transId to refund")
    answer = await client.refund(
        request_id=request.request_id,
        refund_order_id=request.request_id,
        amount=request.amount,
        trans_id=trans_id,
        description=request.reason,
    )
    if isinstance(answer, Rejected | Unknown):
        return _not_usable(answer)
    return outcome(
        request,
        result_code=answer.result_code,
        message=answer.message,
        amount=answer.amount,
        trans_id=answer.trans_id,
    )


async def refund_status(client: MomoClient, request: RefundRequest) -> RefundStatus:
    answer = await client.query(
        request_id="req_" + secrets.token_hex(16), order_id=request.attempt.provider_ref
    )
    if isinstance(answer, Rejected | Unknown):
        return _not_usable(answer)
    for listed in answer.refunds:
        if listed.order_id == request.request_id:
            return outcome(
                request,
                result_code=listed.result_code,
                message=RESULT_MESSAGES.get(listed.result_code, ""),
                amount=listed.amount,
                trans_id=listed.trans_id,
            )
    return RefundNotFound("the paid order lists no refund with this request id")
