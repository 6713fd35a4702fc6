"""Refund requests refuse caller mistakes; VietQR refunds are transfer instructions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from payments.domain.attempts import Provider
from payments.providers.refunds import RefundSubmitted
from payments.providers.vietqr.provider import VietqrConfig, VietqrProvider
from tests.unit.providers.refund_fixtures import ASKED_AT, paid, refund


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"amount": 0}, "positive whole number"),
        ({"amount": 150_001}, "cannot exceed the captured"),
        ({"amount": 1.5}, "positive whole number"),
        ({"amount": 100_000, "full": True}, "whole captured amount"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "has space"}, "request_id"),
        ({"request_id": "x" * 51}, "request_id"),
        ({"requested_at": ASKED_AT.replace(tzinfo=None)}, "aware"),
    ],
)
def test_caller_mistakes_are_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        replace(refund(paid(Provider.VNPAY)), **change)


async def test_vietqr_refund_is_a_transfer_instruction_left_submitted() -> None:
    provider = VietqrProvider(VietqrConfig("970415", "113366668888", "KBNN", "s"))
    request = refund(paid(Provider.VIETQR, txn_id="FT123"), 20_000, "rf_9")
    outcome = await provider.refund(request, now=datetime.now().astimezone())
    assert isinstance(outcome, RefundSubmitted)
    instruction = outcome.instruction
    assert (instruction.from_account_no, instruction.amount) == ("113366668888", 20_000)
    assert instruction.reference == "rf_9"
    assert instruction.description.startswith("rf_9 ")
    assert instruction.original_transfer_id == "FT123"
    assert await provider.refund_status(request, now=ASKED_AT) == outcome
