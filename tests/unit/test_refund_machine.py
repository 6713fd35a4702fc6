"""The refund state machine (tests/support/refund_machine.py) on the in-memory fakes: the same
services and ledger write path as production, fast enough for many examples."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from payments.unit_of_work import WorkFactory
from tests.support.refund_machine import T0, RefundMachine
from tests.unit.fakes import FakeUnitOfWorkFactory

T = TypeVar("T")


class FakeRefundMachine(RefundMachine):
    def unit_of_work(self) -> WorkFactory:
        return FakeUnitOfWorkFactory()  # a fresh, empty store per example

    def start(self) -> datetime:
        return T0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)


def test_refunds_keep_their_invariants_whatever_happens() -> None:
    run_state_machine_as_test(
        FakeRefundMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
