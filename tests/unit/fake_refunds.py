"""An in-memory RefundRepository, part of the unit tests' FakeUnitOfWork."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from payments.domain.payments import Payment, PaymentStatus
from payments.refunds.ports import RefundFilter
from payments.refunds.rules.lifecycle import SCHEDULED, Refund, RefundEvent, live, raised_to_people
from payments.services.ports import IdempotencyRecord, StoredResponse

if TYPE_CHECKING:
    from tests.unit.fakes import Store


def _escalation_matches(escalated: bool | None, refund: Refund) -> bool:
    if escalated is None:
        return True
    return raised_to_people(refund) if escalated else refund.escalated_at is None


@dataclass
class RefundData:
    refunds: dict[str, Refund] = field(default_factory=dict)
    events: list[RefundEvent] = field(default_factory=list)


class FakeRefunds:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.data = store.refunds

    async def add(self, refund: Refund) -> None:
        payment = self.store.payments[refund.payment_id]
        held = sum(r.amount for r in await self.for_payment(refund.payment_id) if live(r))
        captured = max(payment.flags.received_amount, payment.draft.amount)
        if payment.status is not PaymentStatus.SUCCEEDED or held + refund.amount > captured:
            raise ValueError("refunds would exceed the capture")  # the database's trigger
        if any(r.request_id == refund.request_id for r in self.data.refunds.values()):
            raise ValueError("duplicate request id")  # the database's unique key
        self.data.refunds[refund.id] = refund

    async def get(self, refund_id: str, *, lock: bool = False) -> Refund | None:
        return self.data.refunds.get(refund_id)

    async def for_payment(self, payment_id: str) -> Sequence[Refund]:
        return sorted(
            (r for r in self.data.refunds.values() if r.payment_id == payment_id),
            key=lambda r: r.id,
        )

    async def update(self, refund: Refund) -> None:
        before = self.data.refunds[refund.id]
        if (before.amount, before.payment_id) != (refund.amount, refund.payment_id):
            raise ValueError("a refund's amount and payment never change")
        if refund.approved_by is not None and refund.approved_by == refund.requested_by:
            raise ValueError("four eyes")  # the database's CHECK
        self.data.refunds[refund.id] = refund

    async def by_provider_refund_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        for refund in self.data.refunds.values():
            if (refund.provider, refund.provider_refund_id) == (provider, provider_refund_id):
                return refund
        return None

    async def add_event(self, event: RefundEvent) -> None:
        self.data.events.append(replace(event, id=len(self.data.events) + 1))

    async def events(self, refund_id: str) -> Sequence[RefundEvent]:
        return [e for e in self.data.events if e.refund_id == refund_id]

    async def page(
        self, agency_id: int, flt: RefundFilter, *, before_id: str | None, limit: int
    ) -> Sequence[Refund]:
        rows = sorted(
            (r for r in self.data.refunds.values() if r.agency_id == agency_id),
            key=lambda r: r.id,
            reverse=True,
        )
        rows = [
            r
            for r in rows
            if (before_id is None or r.id < before_id)
            and (not flt.statuses or r.status in flt.statuses)
            and (flt.payment_id is None or r.payment_id == flt.payment_id)
            and (flt.created_from is None or r.created_at >= flt.created_from)
            and (flt.created_to is None or r.created_at < flt.created_to)
            and _escalation_matches(flt.escalated, r)
        ]
        return rows[:limit]

    async def claim_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        due = [
            r
            for r in self.data.refunds.values()
            if r.status in SCHEDULED and r.next_action_at is not None and r.next_action_at <= now
        ]
        return sorted(due, key=lambda r: (r.next_action_at or now, r.id))[:limit]

    async def candidates(
        self, agency_id: int, *, before_id: str | None, limit: int
    ) -> Sequence[Payment]:
        rows = sorted(
            (
                p
                for p in self.store.payments.values()
                if p.agency_id == agency_id
                and p.status is PaymentStatus.SUCCEEDED
                and (p.flags.late or p.flags.needs_review or p.flags.overpaid_amount > 0)
                and (before_id is None or p.id < before_id)
            ),
            key=lambda p: p.id,
            reverse=True,
        )
        return rows[:limit]

    async def remember_response(
        self, agency_id: int, key: str, status_code: int, body: str
    ) -> None:
        record = self.store.idempotency[(agency_id, key)]
        self.store.idempotency[(agency_id, key)] = IdempotencyRecord(
            record.key, record.fingerprint, StoredResponse(status_code, body)
        )
