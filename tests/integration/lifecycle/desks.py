"""The refund desks of VNPay and MoMo in the world: each provider's refunds by request id,
and what it does with the next new one (make it, refuse it, keep it pending, or take it while
the answer is lost, or lose the request itself)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from payments.domain.attempts import Result
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


@dataclass
class RefundDesk:
    """A provider's refunds by request id; ``mode`` is what it does with the next new one."""

    records: dict[str, Result] = field(default_factory=dict)
    mode: str = "ok"  # ok | fail | pending | timeout_made | timeout_lost
    down: bool = False
    refunds_told_apart: bool = True  # answers by request id
    sent: Counter[str] = field(default_factory=Counter)

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome:
        self.sent[request.request_id] += 1
        if self.down:
            return RefundUnknown("timeout")
        known = self.records.get(request.request_id)
        if known is not None:
            return _refund_answer(known, request)
        if self.mode == "timeout_lost":
            return RefundUnknown("timeout")
        made = {"ok": Result.SUCCEEDED, "timeout_made": Result.SUCCEEDED, "fail": Result.FAILED}
        self.records[request.request_id] = made.get(self.mode, Result.PENDING)
        if self.mode == "timeout_made":
            return RefundUnknown("timeout")
        return _refund_answer(self.records[request.request_id], request)

    async def refund_status(self, request: RefundRequest, *, now: datetime) -> RefundStatus:
        if self.down:
            return RefundUnknown("timeout")
        known = self.records.get(request.request_id)
        if known is None:
            return RefundNotFound("no such refund")
        return _refund_answer(known, request)


def _refund_answer(state: Result, request: RefundRequest) -> RefundOutcome:
    if state is Result.SUCCEEDED:
        return RefundSucceeded(request.amount, f"R{request.request_id[-8:]}", "00")
    if state is Result.FAILED:
        return RefundFailed("99", "refused by the provider")
    return RefundPending("05", "processing")
