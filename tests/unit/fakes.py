"""In-memory implementations of the service ports, for fast unit tests of the use cases."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Self

from payments.domain.access import Agency, ApiKey, Role
from payments.domain.attempts import Attempt, AttemptStatus, Provider
from payments.domain.callbacks import ProviderCallback
from payments.domain.credits import BankCredit
from payments.domain.errors import ReferenceInUse
from payments.domain.events import AuditEntry, AuditRecord, PaymentEvent
from payments.domain.payments import (
    EXPIRABLE,
    HOLDS_REFERENCE,
    Payment,
    PaymentFlags,
    PaymentStatus,
)
from payments.ledger.ports import LedgerStore
from payments.reconcile.ports import ReconciliationRepository
from payments.refunds.ports import RefundRepository
from payments.services.ports import (
    AgencyRepository,
    ApiKeyRepository,
    AttemptRepository,
    AuditFilter,
    AuditLog,
    CallbackLog,
    Creation,
    CreditRepository,
    DueAttempt,
    IdempotencyClaim,
    IdempotencyRecord,
    IdempotencyRepository,
    NotificationRepository,
    PaymentEventRepository,
    PaymentFilter,
    PaymentRepository,
    RateLimitRepository,
    ScheduleRepository,
)
from tests.unit.fake_ledger import FakeLedgerStore, LedgerData
from tests.unit.fake_notifications import FakeNotifications, FakeSchedule, OutboxState
from tests.unit.fake_refunds import FakeRefunds, RefundData
from tests.unit.reconcile.fake_store import FakeReconciliation, ReconciliationData


class Store:
    """The 'database': committed state shared by every unit of work."""

    def __init__(self) -> None:
        self.agencies: dict[int, Agency] = {}
        self.keys: dict[str, tuple[ApiKey, int]] = {}
        self.payments: dict[str, Payment] = {}
        self.events: list[PaymentEvent] = []
        self.idempotency: dict[tuple[int, str], IdempotencyRecord] = {}
        self.audit: list[AuditEntry] = []
        self.ledger = LedgerData()
        self.attempts: dict[str, Attempt] = {}
        self.callbacks: list[ProviderCallback] = []
        self.credits: list[BankCredit] = []
        self.outbox = OutboxState()
        self.refunds = RefundData()
        self.reconciliation = ReconciliationData()
        self.rate_limit_windows: dict[tuple[int, datetime], int] = {}


class FakeAgencies:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(
        self, *, code: str, name: str, allowed_hosts: frozenset[str], now: datetime
    ) -> Agency:
        agency = Agency(len(self.store.agencies) + 1, code, name, allowed_hosts, now)
        self.store.agencies[agency.id] = agency
        return agency

    async def by_code(self, code: str) -> Agency | None:
        return next((a for a in self.store.agencies.values() if a.code == code), None)

    async def by_id(self, agency_id: int) -> Agency | None:
        return self.store.agencies.get(agency_id)

    async def list(self) -> Sequence[Agency]:
        return sorted(self.store.agencies.values(), key=lambda a: a.code)


class FakeApiKeys:
    def __init__(self, store: Store) -> None:
        self.store = store

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
    ) -> ApiKey:
        key = ApiKey(
            len(self.store.keys) + 1,
            agency_id,
            role,
            prefix,
            label,
            now,
            None,
            rate_limit_per_minute,
        )
        self.store.keys[key_hash] = (key, agency_id)
        return key

    async def by_hash(self, key_hash: str) -> tuple[ApiKey, Agency] | None:
        found = self.store.keys.get(key_hash)
        if found is None:
            return None
        return found[0], self.store.agencies[found[1]]

    async def get(self, key_id: int) -> ApiKey | None:
        return next((k for k, _ in self.store.keys.values() if k.id == key_id), None)

    async def page(
        self, agency_id: int | None, *, before_id: int | None, limit: int | None
    ) -> Sequence[ApiKey]:
        keys = sorted((k for k, _ in self.store.keys.values()), key=lambda k: -k.id)
        keys = [
            k
            for k in keys
            if (agency_id is None or k.agency_id == agency_id)
            and (before_id is None or k.id < before_id)
        ]
        return keys if limit is None else keys[:limit]

    async def revoke(self, key_id: int, now: datetime) -> bool:
        for key_hash, (key, agency_id) in self.store.keys.items():
            if key.id == key_id and key.revoked_at is None:
                self.store.keys[key_hash] = (replace(key, revoked_at=now), agency_id)
                return True
        return False


class FakePayments:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create_with_records(
        self, payment: Payment, event: PaymentEvent, audit: AuditEntry, claim: IdempotencyClaim
    ) -> Creation:
        earlier = self.store.idempotency.get((claim.agency_id, claim.key))
        if earlier is not None:
            return Creation(earlier=earlier)
        holder = await self.holding_reference(payment.agency_id, payment.draft.reference)
        if holder is not None:  # raising leaves the unit of work uncommitted
            raise ReferenceInUse(payment.draft.reference, holder.id, holder.status.value)
        self.store.payments[payment.id] = payment
        self.store.idempotency[(claim.agency_id, claim.key)] = IdempotencyRecord(
            claim.key, claim.fingerprint, claim.response
        )
        await FakeEvents(self.store).add(event)
        await FakeAudit(self.store).record(audit)
        return Creation(earlier=None)

    async def get(self, agency_id: int, payment_id: str, *, lock: bool = False) -> Payment | None:
        payment = self.store.payments.get(payment_id)
        return payment if payment and payment.agency_id == agency_id else None

    async def holding_reference(self, agency_id: int, reference: str) -> Payment | None:
        return next(
            (
                p
                for p in self.store.payments.values()
                if p.agency_id == agency_id
                and p.draft.reference == reference
                and p.status in HOLDS_REFERENCE
            ),
            None,
        )

    async def page(
        self, agency_id: int, flt: PaymentFilter, *, before_id: str | None, limit: int
    ) -> Sequence[Payment]:
        rows = sorted(
            (p for p in self.store.payments.values() if p.agency_id == agency_id),
            key=lambda p: p.id,
            reverse=True,
        )
        rows = [p for p in rows if before_id is None or p.id < before_id]
        if flt.statuses:
            rows = [p for p in rows if p.status in flt.statuses]
        if flt.left_for_review:
            rows = [p for p in rows if self._left_for_review(p.id)]
        return rows[:limit]

    def _left_for_review(self, payment_id: str) -> bool:
        return any(
            a.payment_id == payment_id
            and a.left_for_review_at is not None
            and a.status in (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
            for a in self.store.attempts.values()
        )

    async def set_status(self, payment_id: str, status: PaymentStatus, now: datetime) -> None:
        self.store.payments[payment_id] = replace(
            self.store.payments[payment_id], status=status, updated_at=now
        )

    async def claim_expired(self, now: datetime, limit: int) -> Sequence[Payment]:
        due = [
            p for p in self.store.payments.values() if p.status in EXPIRABLE and p.expires_at <= now
        ]
        return due[:limit]

    async def by_id(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        return self.store.payments.get(payment_id)

    async def by_checkout_token(self, token: str) -> Payment | None:
        return next((p for p in self.store.payments.values() if p.checkout_token == token), None)

    async def set_flags(self, payment_id: str, flags: PaymentFlags, now: datetime) -> None:
        self.store.payments[payment_id] = replace(
            self.store.payments[payment_id], flags=flags, updated_at=now
        )


class FakeAttempts:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, attempt: Attempt) -> None:
        if await self.by_provider_ref(attempt.provider, attempt.provider_ref) is not None:
            raise ValueError("duplicate provider reference")  # the database's unique key
        self.store.attempts[attempt.id] = attempt

    async def get(self, attempt_id: str) -> Attempt | None:
        return self.store.attempts.get(attempt_id)

    async def by_provider_ref(self, provider: Provider, provider_ref: str) -> Attempt | None:
        return next(
            (
                a
                for a in self.store.attempts.values()
                if a.provider is provider and a.provider_ref == provider_ref
            ),
            None,
        )

    async def for_payment(self, payment_id: str) -> Sequence[Attempt]:
        found = [a for a in self.store.attempts.values() if a.payment_id == payment_id]
        return sorted(found, key=lambda a: (a.created_at, a.id))

    async def update(self, attempt: Attempt) -> None:
        if attempt.status is AttemptStatus.SUCCEEDED and any(
            a.status is AttemptStatus.SUCCEEDED and a.id != attempt.id
            for a in await self.for_payment(attempt.payment_id)
        ):
            raise ValueError("a second succeeded attempt")  # the database's partial index
        self.store.attempts[attempt.id] = attempt

    async def claim_due(self, now: datetime, limit: int) -> Sequence[DueAttempt]:
        due = [
            a
            for a in self.store.attempts.values()
            if a.status in (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
            and a.next_query_at is not None
            and a.next_query_at <= now
        ]
        return [
            DueAttempt(a, self.store.payments[a.payment_id].expires_at)
            for a in sorted(due, key=lambda a: (a.next_query_at or now, a.id))[:limit]
        ]


class FakeCallbacks:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, callback: ProviderCallback) -> int:
        callback_id = len(self.store.callbacks) + 1
        self.store.callbacks.append(replace(callback, id=callback_id))
        return callback_id

    async def for_payment(self, payment_id: str) -> Sequence[ProviderCallback]:
        return [c for c in self.store.callbacks if c.payment_id == payment_id]


class FakeCredits:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, credit: BankCredit, received_at: datetime) -> bool:
        if any(c.transfer_id == credit.transfer_id for c in self.store.credits):
            return False
        self.store.credits.append(credit)
        return True

    async def for_payment(self, payment_id: str) -> Sequence[BankCredit]:
        return [c for c in self.store.credits if c.payment_id == payment_id]

    async def unmatched(self, limit: int) -> Sequence[BankCredit]:
        return [c for c in self.store.credits if c.payment_id is None][:limit]


class FakeEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, event: PaymentEvent) -> None:
        self.store.events.append(replace(event, id=len(self.store.events) + 1))

    async def for_payment(self, payment_id: str) -> Sequence[PaymentEvent]:
        return [e for e in self.store.events if e.payment_id == payment_id]


class FakeIdempotency:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(
        self, *, agency_id: int, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        found = self.store.idempotency.get((agency_id, key))
        if found is not None:
            return found
        self.store.idempotency[(agency_id, key)] = IdempotencyRecord(key, fingerprint, None)
        return None

    async def purge(self, now: datetime) -> int:
        return 0


class FakeAudit:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, entry: AuditEntry) -> None:
        self.store.audit.append(entry)

    async def page(
        self, flt: AuditFilter, *, before_id: int | None, limit: int
    ) -> Sequence[AuditRecord]:
        def matches(e: AuditEntry) -> bool:
            return (
                (flt.actor is None or e.actor == flt.actor)
                and (flt.action is None or e.action == flt.action)
                and (flt.action_prefix is None or e.action.startswith(flt.action_prefix))
                and (flt.target_type is None or e.target_type == flt.target_type)
                and (flt.target_id is None or e.target_id == flt.target_id)
                and (flt.occurred_from is None or e.occurred_at >= flt.occurred_from)
                and (flt.occurred_to is None or e.occurred_at < flt.occurred_to)
            )

        found = [
            AuditRecord(
                number,
                e,
                self.store.agencies[e.agency_id].code if e.agency_id is not None else None,
            )
            for number, e in enumerate(self.store.audit, start=1)
            if (before_id is None or number < before_id) and matches(e)
        ]
        return found[::-1][:limit]


class FakeRateLimits:
    """The lease statement as the adapter runs it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def lease(
        self, *, api_key_id: int, window_start: datetime, block: int, limit: int
    ) -> int | None:
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        key = (api_key_id, window_start)
        before = self.store.rate_limit_windows.get(key)
        if before is not None and before >= limit:
            return None
        self.store.rate_limit_windows[key] = (before or 0) + block
        return before or 0

    async def purge(self, before: datetime) -> int:
        windows = self.store.rate_limit_windows
        old = [key for key in windows if key[1] < before]
        for key in old:
            del windows[key]
        return len(old)


class FakeUnitOfWork:
    """Works on a copy of the store; commit publishes it, anything else throws it away."""

    # Typed as the ports (attributes of a protocol are invariant), like SqlUnitOfWork.
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
    refunds: RefundRepository
    reconciliation: ReconciliationRepository
    rate_limits: RateLimitRepository

    def __init__(self, store: Store) -> None:
        self.committed = store

    async def __aenter__(self) -> Self:
        self.working = copy.deepcopy(self.committed)
        self.agencies = FakeAgencies(self.working)
        self.api_keys = FakeApiKeys(self.working)
        self.payments = FakePayments(self.working)
        self.events = FakeEvents(self.working)
        self.idempotency = FakeIdempotency(self.working)
        self.audit = FakeAudit(self.working)
        self.ledger = FakeLedgerStore(self.working.ledger)
        self.attempts = FakeAttempts(self.working)
        self.callbacks = FakeCallbacks(self.working)
        self.credits = FakeCredits(self.working)
        self.notifications = FakeNotifications(self.working.outbox)
        self.schedule = FakeSchedule(self.working.outbox)
        self.refunds = FakeRefunds(self.working)
        self.reconciliation = FakeReconciliation(self.working)
        self.rate_limits = FakeRateLimits(self.working)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self.committed.__dict__.update(self.working.__dict__)


class FakeUnitOfWorkFactory:
    def __init__(self) -> None:
        self.store = Store()
        self.opened = 0  # units of work handed out: transactions, for tests that count them

    def __call__(self) -> FakeUnitOfWork:
        self.opened += 1
        return FakeUnitOfWork(self.store)
