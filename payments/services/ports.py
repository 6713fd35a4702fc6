"""What the services need from storage, as protocols. Adapters implement them.

Unit tests run the services on in-memory fakes of these; integration tests on SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from payments.domain.access import Agency, ApiKey, Role
from payments.domain.attempts import Attempt, Provider, ProviderOutcome
from payments.domain.callbacks import ProviderCallback
from payments.domain.credits import BankCredit
from payments.domain.events import AuditEntry, AuditRecord, PaymentEvent
from payments.domain.notifications import (
    DeliveryAttempt,
    Notification,
    OutgoingWebhook,
    PostResult,
)
from payments.domain.payments import Payment, PaymentFlags, PaymentKind, PaymentStatus
from payments.ledger.ports import LedgerStore


@dataclass(frozen=True)
class PaymentFilter:
    reference: str | None = None
    statuses: frozenset[PaymentStatus] = frozenset()
    kind: PaymentKind | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # Only payments with an open attempt left for review (its query ladder ended).
    left_for_review: bool = False


@dataclass(frozen=True)
class DueAttempt:
    """An attempt whose query is due, with its payment's expiry (a moment of its schedule)."""

    attempt: Attempt
    payment_expires_at: datetime


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    response: StoredResponse | None


@dataclass(frozen=True)
class IdempotencyClaim:
    """An Idempotency-Key to take, with the answer to keep for replays of the request."""

    agency_id: int
    key: str
    fingerprint: str
    response: StoredResponse
    now: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Creation:
    """What ``create_with_records`` did: stored everything, or found the key taken."""

    earlier: IdempotencyRecord | None


class AgencyRepository(Protocol):
    async def add(
        self, *, code: str, name: str, allowed_hosts: frozenset[str], now: datetime
    ) -> Agency: ...

    async def by_code(self, code: str) -> Agency | None: ...

    async def by_id(self, agency_id: int) -> Agency | None: ...

    async def list(self) -> Sequence[Agency]: ...


class ApiKeyRepository(Protocol):
    async def add(
        self,
        *,
        agency_id: int,
        role: Role,
        key_hash: str,
        prefix: str,
        label: str | None,
        now: datetime,
        rate_limit_per_minute: int | None = None,
    ) -> ApiKey: ...

    async def by_hash(self, key_hash: str) -> tuple[ApiKey, Agency] | None: ...

    async def get(self, key_id: int) -> ApiKey | None:
        """Any agency's key (the use cases check whose it is)."""

    async def page(
        self, agency_id: int | None, *, before_id: int | None, limit: int | None
    ) -> Sequence[ApiKey]:
        """Newest (highest id) first, below ``before_id`` when given; the agency's keys, or
        every agency's when ``agency_id`` is None; all of them when ``limit`` is None."""

    async def revoke(self, key_id: int, now: datetime) -> bool:
        """Set the key's ``revoked_at`` unless it is set; True when this call revoked it.
        The revocation reaches every process's key cache at commit (PostgreSQL: NOTIFY)."""


class PaymentRepository(Protocol):
    async def create_with_records(
        self, payment: Payment, event: PaymentEvent, audit: AuditEntry, claim: IdempotencyClaim
    ) -> Creation:
        """Take the key and store the payment, its event and audit row, all or nothing.

        The key taken (unknown, or expired) stores the payment with the claim's response. A
        key someone holds makes this wait until they commit or roll back; a committed, live
        key stores nothing and comes back as ``Creation.earlier``. Raises ReferenceInUse if
        another payment holds the reference (the caller's rollback then frees the key).
        """

    async def get(
        self, agency_id: int, payment_id: str, *, lock: bool = False
    ) -> Payment | None: ...

    async def holding_reference(self, agency_id: int, reference: str) -> Payment | None: ...

    async def page(
        self, agency_id: int, flt: PaymentFilter, *, before_id: str | None, limit: int
    ) -> Sequence[Payment]:
        """Newest first, strictly older than ``before_id`` (keyset pagination)."""

    async def set_status(self, payment_id: str, status: PaymentStatus, now: datetime) -> None: ...

    async def claim_expired(self, now: datetime, limit: int) -> Sequence[Payment]:
        """Lock overdue, still-open payments; rows other processes hold are skipped."""

    async def by_id(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """Any agency's payment: for provider callbacks, which know no agency."""

    async def by_checkout_token(self, token: str) -> Payment | None: ...

    async def set_flags(self, payment_id: str, flags: PaymentFlags, now: datetime) -> None: ...


class AttemptRepository(Protocol):
    async def add(self, attempt: Attempt) -> None:
        """Store a new attempt; its (provider, provider_ref) is unique."""

    async def get(self, attempt_id: str) -> Attempt | None: ...

    async def by_provider_ref(self, provider: Provider, provider_ref: str) -> Attempt | None: ...

    async def for_payment(self, payment_id: str) -> Sequence[Attempt]:
        """Oldest first."""

    async def update(self, attempt: Attempt) -> None:
        """Store the attempt's status, result, provider transaction, requery schedule, page
        and review mark."""

    async def claim_due(self, now: datetime, limit: int) -> Sequence[DueAttempt]:
        """Lock open attempts whose next query is due (``next_query_at <= now``), oldest
        schedule first; rows other processes hold are skipped."""


class StatusQuery(Protocol):
    """Ask the attempt's provider; None when the answer is unknown (timeout, 5xx, unusable)."""

    async def __call__(self, attempt: Attempt, now: datetime) -> ProviderOutcome | None: ...


class CallbackLog(Protocol):
    async def record(self, callback: ProviderCallback) -> int:
        """Keep a provider message (verified or not); return its id."""

    async def for_payment(self, payment_id: str) -> Sequence[ProviderCallback]: ...


class PaymentEventRepository(Protocol):
    async def add(self, event: PaymentEvent) -> None: ...

    async def for_payment(self, payment_id: str) -> Sequence[PaymentEvent]: ...


class IdempotencyRepository(Protocol):
    async def claim(
        self, *, agency_id: int, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        """Take the key for this transaction, or return the record someone else completed.

        A concurrent holder of the key makes this wait until it commits or rolls back.
        """

    async def purge(self, now: datetime) -> int: ...


@dataclass(frozen=True)
class AuditFilter:
    """What ``GET /v1/audit-log`` narrows by; every field given must match."""

    actor: str | None = None
    action: str | None = None
    action_prefix: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    occurred_from: datetime | None = None  # inclusive
    occurred_to: datetime | None = None  # exclusive


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...

    async def page(
        self, flt: AuditFilter, *, before_id: int | None, limit: int
    ) -> Sequence[AuditRecord]:
        """Up to ``limit`` rows matching ``flt``, newest (highest id) first, below
        ``before_id`` when given."""


class CreditRepository(Protocol):
    async def add(self, credit: BankCredit, received_at: datetime) -> bool:
        """Keep a bank credit; False (and nothing stored) when its transfer id is known."""

    async def for_payment(self, payment_id: str) -> Sequence[BankCredit]: ...

    async def unmatched(self, limit: int) -> Sequence[BankCredit]:
        """Credits no attempt claimed, oldest first: for reconciliation."""


@dataclass(frozen=True)
class EventFilter:
    types: frozenset[str] = frozenset()
    payment_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class DeliveryTarget:
    """An agency's side of delivery: its default URL, its allow-list, its signing secrets."""

    default_url: str | None
    allowed_hosts: frozenset[str]
    secrets: tuple[str, ...]


class NotificationRepository(Protocol):
    async def add(self, notification: Notification) -> None:
        """Write the event in the caller's transaction (the outbox)."""

    async def for_payment(self, payment_id: str) -> Sequence[Notification]:
        """Oldest first: the events of a payment and its refunds."""

    async def claim_due(
        self, *, now: datetime, worker: str, until: datetime, limit: int
    ) -> Sequence[Notification]:
        """Claim pending events due by ``now`` for ``worker`` until ``until``: rows another
        live claim holds are skipped (SKIP LOCKED on PostgreSQL), lapsed claims taken over."""

    async def finish(self, notification: Notification, *, worker: str, claimed_count: int) -> bool:
        """Store the state after an attempt and drop the claim, only while ``worker`` still
        holds it (same worker, attempt count unchanged since the claim). False: lost."""

    async def release(self, notification_id: str, *, worker: str) -> None:
        """Give a claim back untouched (shutdown): the row is due again at once."""

    async def log_attempt(self, attempt: DeliveryAttempt) -> None: ...

    async def get(self, agency_id: int, event_id: str) -> Notification | None: ...

    async def page(
        self,
        agency_id: int,
        flt: EventFilter,
        *,
        after_id: str | None,
        before_id: str,
        limit: int,
    ) -> Sequence[Notification]:
        """Oldest first, ids strictly between ``after_id`` and ``before_id``."""

    async def deliveries(self, event_id: str) -> Sequence[DeliveryAttempt]:
        """Oldest first."""

    async def reschedule(self, event_id: str, now: datetime) -> None:
        """Due again at ``now`` whatever its state; any claim is dropped (its result will
        no longer be recorded, its attempt still is)."""

    async def target(self, agency_id: int, now: datetime) -> DeliveryTarget: ...

    async def set_default_url(self, agency_id: int, url: str | None) -> None: ...

    async def add_secret(
        self, agency_id: int, secret: str, *, now: datetime, previous_until: datetime
    ) -> None:
        """The new secret signs from now on; the current one keeps signing beside it until
        ``previous_until``; any older one stops now (at most two sign at once)."""


class ScheduleRepository(Protocol):
    async def claim_run(
        self,
        job: str,
        run_date: date,
        *,
        worker: str,
        now: datetime,
        until: datetime,
        max_attempts: int,
    ) -> int | None:
        """Take (job, day) if nobody has, or if its holder's lease lapsed, or if it failed
        fewer than ``max_attempts`` times; return the attempt number, or None."""

    async def renew_run(
        self, job: str, run_date: date, *, worker: str, attempt: int, until: datetime
    ) -> bool: ...

    async def finish_run(
        self,
        job: str,
        run_date: date,
        *,
        worker: str,
        attempt: int,
        now: datetime,
        error: str | None,
    ) -> bool:
        """``done`` (error None) or ``failed``, only while the claim is still ours."""


class RateLimitRepository(Protocol):
    """The per-key window counts every web process shares (``payments/domain/rate_limits.py``);
    a lease runs in a unit of work of its own (``payments/services/rate_limits.py``)."""

    async def lease(
        self, *, api_key_id: int, window_start: datetime, block: int, limit: int
    ) -> int | None:
        """Add ``block`` to the key's count for the window in one atomic statement, unless
        the count has reached ``limit``. Returns the count before the addition (0 for a new
        window), or None when it had reached the limit (nothing added)."""

    async def purge(self, before: datetime) -> int:
        """Forget the windows that started before ``before``; return how many."""


class NotificationSender(Protocol):
    """Sign and post one notification; never raises for the portal's failures."""

    async def __call__(self, message: OutgoingWebhook) -> PostResult: ...


class UnitOfWork(Protocol):
    agencies: AgencyRepository
    api_keys: ApiKeyRepository
    payments: PaymentRepository
    events: PaymentEventRepository
    idempotency: IdempotencyRepository
    audit: AuditLog
    ledger: LedgerStore
    attempts: AttemptRepository
    callbacks: CallbackLog
    credits: CreditRepository
    notifications: NotificationRepository
    schedule: ScheduleRepository
    rate_limits: RateLimitRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
