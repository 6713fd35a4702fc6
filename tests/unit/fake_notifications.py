"""In-memory outbox and daily-run stores for service tests (see ``fakes.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from payments.domain.notifications import DeliveryAttempt, DeliveryState, Notification
from payments.services.ports import DeliveryTarget, EventFilter


@dataclass
class OutboxState:
    notifications: dict[str, Notification] = field(default_factory=dict)
    claims: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    deliveries: list[DeliveryAttempt] = field(default_factory=list)
    default_urls: dict[int, str | None] = field(default_factory=dict)
    allowed_hosts: dict[int, frozenset[str]] = field(default_factory=dict)
    # agency -> [(secret, retires_at)]
    secrets: dict[int, list[tuple[str, datetime | None]]] = field(default_factory=dict)
    # (job, day) -> [state, worker, until, attempts]
    runs: dict[tuple[str, date], list[object]] = field(default_factory=dict)


class FakeNotifications:
    def __init__(self, state: OutboxState) -> None:
        self.state = state

    async def add(self, notification: Notification) -> None:
        self.state.notifications[notification.id] = notification

    async def for_payment(self, payment_id: str) -> Sequence[Notification]:
        return sorted(
            (n for n in self.state.notifications.values() if n.payment_id == payment_id),
            key=lambda n: n.id,
        )

    async def claim_due(
        self, *, now: datetime, worker: str, until: datetime, limit: int
    ) -> Sequence[Notification]:
        due = [
            n
            for n in self.state.notifications.values()
            if n.state is DeliveryState.PENDING
            and n.next_attempt_at is not None
            and n.next_attempt_at <= now
            and (n.id not in self.state.claims or self.state.claims[n.id][1] <= now)
        ]
        due.sort(key=lambda n: (n.next_attempt_at, n.id))
        for n in due[:limit]:
            self.state.claims[n.id] = (worker, until)
        return due[:limit]

    async def finish(self, notification: Notification, *, worker: str, claimed_count: int) -> bool:
        stored = self.state.notifications[notification.id]
        claim = self.state.claims.get(notification.id)
        if (
            claim is None
            or claim[0] != worker
            or stored.attempt_count != claimed_count
            or stored.state is not DeliveryState.PENDING
        ):
            return False
        self.state.notifications[notification.id] = notification
        del self.state.claims[notification.id]
        return True

    async def release(self, notification_id: str, *, worker: str) -> None:
        claim = self.state.claims.get(notification_id)
        if claim is not None and claim[0] == worker:
            del self.state.claims[notification_id]

    async def log_attempt(self, attempt: DeliveryAttempt) -> None:
        self.state.deliveries.append(attempt)

    async def get(self, agency_id: int, event_id: str) -> Notification | None:
        found = self.state.notifications.get(event_id)
        return found if found is not None and found.agency_id == agency_id else None

    async def page(
        self,
        agency_id: int,
        flt: EventFilter,
        *,
        after_id: str | None,
        before_id: str,
        limit: int,
    ) -> Sequence[Notification]:
        rows = [
            n
            for n in sorted(self.state.notifications.values(), key=lambda n: n.id)
            if n.agency_id == agency_id
            and n.id < before_id
            and (after_id is None or n.id > after_id)
            and (not flt.types or n.type in flt.types)
            and (flt.payment_id is None or n.payment_id == flt.payment_id)
            and (flt.created_from is None or n.occurred_at >= flt.created_from)
            and (flt.created_to is None or n.occurred_at < flt.created_to)
        ]
        return rows[:limit]

    async def deliveries(self, event_id: str) -> Sequence[DeliveryAttempt]:
        return [d for d in self.state.deliveries if d.notification_id == event_id]

    async def reschedule(self, event_id: str, now: datetime) -> None:
        stored = self.state.notifications[event_id]
        self.state.notifications[event_id] = replace(
            stored, state=DeliveryState.PENDING, next_attempt_at=now
        )
        self.state.claims.pop(event_id, None)

    async def target(self, agency_id: int, now: datetime) -> DeliveryTarget:
        secrets = [
            s for s, until in self.state.secrets.get(agency_id, []) if until is None or until > now
        ]
        return DeliveryTarget(
            default_url=self.state.default_urls.get(agency_id),
            allowed_hosts=self.state.allowed_hosts.get(agency_id, frozenset()),
            secrets=tuple(reversed(secrets)),
        )

    async def set_default_url(self, agency_id: int, url: str | None) -> None:
        self.state.default_urls[agency_id] = url

    async def add_secret(
        self, agency_id: int, secret: str, *, now: datetime, previous_until: datetime
    ) -> None:
        kept = []
        for value, until in self.state.secrets.get(agency_id, []):
            if until is None:
                kept.append((value, previous_until))
            else:
                kept.append((value, min(until, now)))
        self.state.secrets[agency_id] = [*kept, (secret, None)]


class FakeSchedule:
    def __init__(self, state: OutboxState) -> None:
        self.state = state

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
        run = self.state.runs.get((job, run_date))
        if run is None:
            self.state.runs[(job, run_date)] = ["running", worker, until, 1]
            return 1
        state, _, held_until, attempts = run
        assert isinstance(held_until, datetime | None)
        assert isinstance(attempts, int)
        lapsed = state == "running" and held_until is not None and held_until <= now
        retry = state == "failed" and attempts < max_attempts
        if not (lapsed or retry):
            return None
        self.state.runs[(job, run_date)] = ["running", worker, until, attempts + 1]
        return attempts + 1

    async def renew_run(
        self, job: str, run_date: date, *, worker: str, attempt: int, until: datetime
    ) -> bool:
        run = self.state.runs.get((job, run_date))
        if run is None or run[0] != "running" or run[1] != worker or run[3] != attempt:
            return False
        run[2] = until
        return True

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
        run = self.state.runs.get((job, run_date))
        if run is None or run[0] != "running" or run[1] != worker or run[3] != attempt:
            return False
        self.state.runs[(job, run_date)] = [
            "done" if error is None else "failed",
            None,
            None,
            attempt,
        ]
        return True
