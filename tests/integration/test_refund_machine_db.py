"""The refund state machine (tests/support/refund_machine.py) on SQLite and PostgreSQL: the real
repositories, database guards and ledger store under the same rules and invariants as the
fakes' run, read back from the database after every step.

Examples share one database. Each keeps apart by agencies of its own (so its payments and
refunds), by measuring the shared ledger accounts from where it found them, and by time:
each example runs earlier than every example before it, so no refund an earlier example
left scheduled is ever due in a later one's background runs (which claim every due refund
in the database).
"""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from payments.adapters.db.engine import make_engine
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import verify_ledger
from payments.unit_of_work import SqlUnitOfWorkFactory, WorkFactory
from tests.integration.ledger.loop_thread import LoopThread
from tests.support.refund_machine import RefundMachine

T = TypeVar("T")
STEPS = 20
# Far enough ahead that going back one span per example stays in range; one span covers an
# example's steps (a day at most each) and a next action a day after its last.
LATEST = datetime(2300, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=STEPS + 10)


class DbRefundMachine(RefundMachine):
    loop: LoopThread
    uow_factory: SqlUnitOfWorkFactory
    examples: itertools.count[int]

    def unit_of_work(self) -> WorkFactory:
        return self.uow_factory

    def start(self) -> datetime:
        return LATEST - SPAN * next(self.examples)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coro)


def test_refunds_keep_their_invariants_on_the_database(database_url: str) -> None:
    loop = LoopThread()
    engine = make_engine(database_url, pool_size=2)

    class Machine(DbRefundMachine):
        pass

    Machine.loop = loop
    Machine.uow_factory = SqlUnitOfWorkFactory(engine)
    Machine.examples = itertools.count()
    options: dict[str, Any] = {
        "max_examples": 30,
        "stateful_step_count": STEPS,
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    }

    async def verify() -> None:
        async with ledger_snapshot(engine) as store:
            report = await verify_ledger(store)
        assert report.ok, [str(p) for p in report.problems]

    try:
        run_state_machine_as_test(Machine, settings=settings(**options))
        loop.run(verify())  # every example's entries, as the ledger's own check sees them
    finally:
        loop.run(engine.dispose())
        loop.close()
