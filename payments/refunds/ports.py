"""What the refund use cases need from storage (``uow.refunds``), as a protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from payments.domain.attempts import Provider
from payments.domain.payments import Payment
from payments.providers.refunds import RefundOutcome, RefundRequest
from payments.providers.refunds import RefundStatus as ProviderRefundStatus
from payments.refunds.rules.lifecycle import Refund, RefundEvent, RefundStatus
from payments.services.ports import UnitOfWork


@dataclass(frozen=True)
class RefundFilter:
    statuses: frozenset[RefundStatus] = frozenset()
    payment_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    escalated: bool | None = None  # True: only refunds raised to people and still in flight


class RefundRepository(Protocol):
    async def add(self, refund: Refund) -> None:
        """Store a new refund (the database refuses one that would exceed the capture)."""

    async def get(self, refund_id: str, *, lock: bool = False) -> Refund | None: ...

    async def for_payment(self, payment_id: str) -> Sequence[Refund]:
        """Oldest first."""

    async def update(self, refund: Refund) -> None:
        """Store status, decision, provider answer and schedule (the amounts never change)."""

    async def by_provider_refund_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        """The refund that holds this provider refund number, if any."""

    async def add_event(self, event: RefundEvent) -> None: ...

    async def events(self, refund_id: str) -> Sequence[RefundEvent]:
        """Oldest first."""

    async def page(
        self, agency_id: int, flt: RefundFilter, *, before_id: str | None, limit: int
    ) -> Sequence[Refund]:
        """Newest first, strictly older than ``before_id`` (keyset pagination)."""

    async def claim_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        """Lock scheduled refunds whose next action is due, earliest first; rows other
        processes hold are skipped."""

    async def candidates(
        self, agency_id: int, *, before_id: str | None, limit: int
    ) -> Sequence[Payment]:
        """Succeeded payments flagged late, for review or overpaid, newest first."""

    async def remember_response(
        self, agency_id: int, key: str, status_code: int, body: str
    ) -> None:
        """Keep the answer with the Idempotency-Key this transaction claimed."""


class RefundGateway(Protocol):
    """A provider's refund calls (``PaymentProvider`` has them; see providers/refunds.py)."""

    @property
    def refunds_told_apart(self) -> bool:
        """Whether the refund status query names our request id (MoMo), so that refunds of one
        payment may be at the provider together; False when it finds a refund only by the
        payment and its create second (VNPay), so they go one at a time."""
        ...

    async def refund(self, request: RefundRequest, *, now: datetime) -> RefundOutcome: ...

    async def refund_status(
        self, request: RefundRequest, *, now: datetime
    ) -> ProviderRefundStatus: ...


class RefundProviders(Protocol):
    """The configured providers by name (``ProviderRegistry`` is one)."""

    def get(self, name: Provider) -> RefundGateway | None: ...


class MoneyPassedOn(Protocol):
    """What a refund must know of the reconciliation: whether the captured money already left
    the provider's hands (settled, or confirmed by the treasury). The reconciliation's storage
    answers it; the refunds need no more of it."""

    async def lock_settlements(self, *, exclusive: bool) -> None:
        """Shared for a refund request or approval, exclusive for a run booking settlements,
        until the transaction ends: a refund never lands between a run reading a payment's
        refunds and booking its settlement."""

    async def passed_on(self, payment_id: str) -> tuple[date | None, date | None]:
        """(the day the payment's provider settlement was booked, the day the treasury
        confirmed it)."""


class RefundWork(UnitOfWork, Protocol):
    """The unit of work the refund use cases run in: the shared repositories, the refunds and
    what they must know of the reconciliation."""

    refunds: RefundRepository

    @property
    def reconciliation(self) -> MoneyPassedOn: ...


class RefundWorkFactory(Protocol):
    def __call__(self) -> RefundWork: ...
