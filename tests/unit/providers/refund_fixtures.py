"""A paid attempt and refund requests for the provider refund tests."""

from __future__ import annotations

from datetime import UTC, datetime

from payments.domain.attempts import Attempt, AttemptStatus, Provider
from payments.providers.refunds import RefundRequest

PAID_AT = datetime(2025, 1, 2, 17, 30, tzinfo=UTC)
ASKED_AT = datetime(2025, 1, 5, 2, 0, tzinfo=UTC)


def paid(provider: Provider, txn_id: str = "14000123", amount: int = 150_000) -> Attempt:
    return Attempt(
        "att_1", "pay_1", provider, "att_1", "M1", amount, "VND",
        AttemptStatus.SUCCEEDED, PAID_AT, PAID_AT, provider_txn_id=txn_id,
    )  # fmt: skip


def refund(attempt: Attempt, amount: int = 50_000, request_id: str = "rf_1") -> RefundRequest:
    return RefundRequest(
        attempt=attempt,
        amount=amount,
        full=amount == attempt.amount,
        request_id=request_id,
        reason="Thu trùng",
        actor="finance@agency",
        requested_at=ASKED_AT,
    )
