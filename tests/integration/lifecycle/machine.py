"""The lifecycle machine's base: one fresh database per example (a clone of the migrated
template), the world, the reference model, the model clock, and the invariants after every
step. The rules are in ``rules_payments``, ``rules_refunds`` and ``rules_night``.

Time is the model's: it starts at 09:00 in Hanoi on a business day, rules move it on by
minutes (never past 15:30, so every capture belongs to its own day), and the night rule runs
the day's reconciliation at 20:00 and moves to 09:00 of the next business day.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant

from payments.adapters.db.engine import make_engine
from payments.domain.access import Caller
from payments.domain.payments import PaymentDraft
from payments.ledger.entries import Entry
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import verify_ledger
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.ledger.loop_thread import LoopThread
from tests.integration.lifecycle import invariants
from tests.integration.lifecycle.drive import Drive
from tests.integration.lifecycle.files import Treasury
from tests.integration.lifecycle.model import Gateway
from tests.integration.lifecycle.model_recon import Recon
from tests.integration.lifecycle.model_refunds import Refunds
from tests.integration.lifecycle.readback import load, snapshot
from tests.integration.lifecycle.world import World
from tests.support.factories import portal_caller
from tests.support.refund_support import officer

T = TypeVar("T")
FIRST_DAY = date(2025, 3, 12)  # a Wednesday; no holiday in the weeks after it
MORNING = timedelta(hours=2)  # 09:00 in Hanoi, in UTC
LAST_MOMENT = timedelta(hours=8, minutes=30)  # 15:30 in Hanoi: before the 16:00 cut-off
AGENCIES = ("AG1", "AG2")


class LifecycleBase(RuleBasedStateMachine):
    loop: ClassVar[LoopThread]
    template: ClassVar[Any]  # PostgresTemplate | SqliteTemplate

    def __init__(self) -> None:
        super().__init__()
        self.url = self.run(self.template.clone())
        self.engine = make_engine(self.url, pool_size=4)
        self.uow = SqlUnitOfWorkFactory(self.engine)
        self.world = World()
        self.drive = Drive(self.uow, self.world)
        self.gw = Gateway()
        self.refunds = Refunds(self.gw, self.world.desks)
        self.recon = Recon(self.gw, self.refunds)
        self.treasury = Treasury()
        self.day = FIRST_DAY
        self.now = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC) + MORNING
        self.portals: list[Caller] = [
            self.run(portal_caller(self.uow, self.now, code=code)) for code in AGENCIES
        ]
        self.made = 0
        self.entries: dict[int, Entry] = {}
        self.statement_files: dict[date, list[tuple[str, bytes]]] = {}
        # Creations: (portal, body, Idempotency-Key, payment id, when).
        self.asked: list[tuple[Caller, PaymentDraft, str, str, datetime]] = []

    def teardown(self) -> None:
        self.run(self.world.close())
        self.run(self.engine.dispose())
        self.run(self.template.drop_clone(self.url))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coro)

    def officer(self, agency: int, key: int) -> Caller:
        portal = self.portals[agency]
        return officer(portal.agency_id, key, portal.agency_code)

    def next_name(self) -> int:
        self.made += 1
        return self.made

    def tick(self, minutes: float = 0, seconds: float = 1) -> None:
        """Move the clock on, never past the day's last moment before the cut-off."""
        last = datetime.combine(self.day, datetime.min.time(), tzinfo=UTC) + LAST_MOMENT
        self.now = min(self.now + timedelta(minutes=minutes, seconds=seconds), last)

    def refused(self, call: Coroutine[Any, Any, object], *errors: type[BaseException]) -> None:
        """A rejected operation: it raises one of ``errors`` and changes nothing."""
        before = self.run(snapshot(self.engine))
        with pytest.raises(errors):
            self.run(call)
        assert self.run(snapshot(self.engine)) == before

    def unchanged(self, call: Coroutine[Any, Any, T]) -> T:
        """An operation that must change nothing (a refused or tampered message)."""
        before = self.run(snapshot(self.engine))
        answer = self.run(call)
        assert self.run(snapshot(self.engine)) == before
        return answer

    # --- after every step -------------------------------------------------------------------

    @invariant()
    def the_gateway_agrees_with_the_model(self) -> None:
        stored = self.run(load(self.uow, self.gw.payments, self.recon.days))
        invariants.ledger_rules(stored, self.entries)
        self.entries = {e.id: e for e in stored.entries}
        invariants.payments_agree(stored, self.gw, self.refunds)
        invariants.books_agree(stored, self.gw, self.recon)
        invariants.reconciliation_agrees(stored, self.recon)

        async def verify() -> list[str]:
            async with ledger_snapshot(self.engine) as store:
                report = await verify_ledger(store)
            return [str(p) for p in report.problems]

        assert self.run(verify()) == []  # section 5, 8: `payments ledger verify` passes
