"""Notifications to portals: delivery by workers, the events API, agencies' settings.

Delivery: a worker claims due events in one short transaction (a lease: ``claimed_by`` and
``claimed_until``), posts them with no transaction open, then records each result in another
short transaction only if it still holds the claim (fencing). A worker that died leaves
claims that lapse, and another worker takes them over: delivery is at least once, and a
duplicate can only happen after a claim timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from payments.domain.access import Caller
from payments.domain.errors import FieldProblem, InvalidInput, NotFound
from payments.domain.events import AuditEntry
from payments.domain.notifications import (
    DeliveryAttempt,
    DeliveryOutcome,
    DeliveryState,
    Notification,
    OutgoingWebhook,
    PostResult,
    after_attempt,
    new_webhook_secret,
    target_problem,
)
from payments.domain.pages import one_page
from payments.services.ports import (
    DeliveryTarget,
    EventFilter,
    NotificationSender,
    UnitOfWork,
    UnitOfWorkFactory,
)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeliveryPolicy:
    worker: str  # who claims: host, process and a random part
    lease: timedelta  # how long a claim holds before another worker may take it over
    live: bool  # outside sandbox mode the target's host must be on the allow-list
    batch: int = 20


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int
    delivered: int
    failed: int  # attempts that did not deliver (retried later or failed for good)
    lost: int  # results not recorded: the claim had lapsed or a redelivery reset it


# --- delivery ---------------------------------------------------------------------------------


async def deliver_due_notifications(
    uow_factory: UnitOfWorkFactory,
    send: NotificationSender,
    policy: DeliveryPolicy,
    *,
    clock: Clock,
) -> DeliveryReport:
    now = clock()
    async with uow_factory() as uow:
        claimed = await uow.notifications.claim_due(
            now=now, worker=policy.worker, until=now + policy.lease, limit=policy.batch
        )
        targets = {n.agency_id: await uow.notifications.target(n.agency_id, now) for n in claimed}
        await uow.commit()
    unrecorded = {n.id for n in claimed}
    try:
        # One failing record (a database hiccup) must not abandon the rest of the batch.
        results = await asyncio.gather(
            *(
                _deliver_one(uow_factory, send, policy, n, targets[n.agency_id], clock, unrecorded)
                for n in claimed
            ),
            return_exceptions=True,
        )
    finally:
        # Shutting down (cancelled) mid-batch: give back what was never recorded, so the
        # next worker need not wait for the lease. Best effort: a lapsed lease does it too.
        for notification_id in sorted(unrecorded):
            with contextlib.suppress(Exception):
                async with uow_factory() as uow:
                    await uow.notifications.release(notification_id, worker=policy.worker)
                    await uow.commit()
    for result in results:
        if isinstance(result, BaseException):
            raise result  # its claim was given back above; the worker logs it
    return DeliveryReport(
        claimed=len(claimed),
        delivered=sum(1 for r in results if r == "delivered"),
        failed=sum(1 for r in results if r == "failed"),
        lost=sum(1 for r in results if r == "lost"),
    )


async def _deliver_one(
    uow_factory: UnitOfWorkFactory,
    send: NotificationSender,
    policy: DeliveryPolicy,
    notification: Notification,
    target: DeliveryTarget,
    clock: Clock,
    unrecorded: set[str],
) -> str:
    url = notification.target_url or target.default_url
    started = clock()
    if url is None:
        no_target = replace(notification, state=DeliveryState.NO_TARGET, next_attempt_at=None)
        async with uow_factory() as uow:
            kept = await uow.notifications.finish(
                no_target, worker=policy.worker, claimed_count=notification.attempt_count
            )
            await uow.commit()
        unrecorded.discard(notification.id)
        return "none" if kept else "lost"
    problem = (
        target_problem(url, target.allowed_hosts, allow_plain_http=False) if policy.live else None
    )
    if problem is not None:
        result = PostResult(DeliveryOutcome.BLOCKED, None, 0, problem)
    elif not target.secrets:
        # Never post unsigned: the portal could not tell us from anyone else.
        result = PostResult(
            DeliveryOutcome.BLOCKED, None, 0, "the agency has no webhook secret yet"
        )
    else:
        result = await send(
            OutgoingWebhook(
                url=url,
                event_id=notification.id,
                body=notification.body(),
                secrets=target.secrets,
            )
        )
    ended = clock()
    moved = after_attempt(notification, result, ended)
    async with uow_factory() as uow:
        await uow.notifications.log_attempt(
            DeliveryAttempt(
                notification_id=notification.id,
                attempt_no=notification.attempt_count + 1,
                started_at=started,
                url=url,
                outcome=result.outcome,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                error=result.error,
                worker=policy.worker,
            )
        )
        kept = await uow.notifications.finish(
            moved, worker=policy.worker, claimed_count=notification.attempt_count
        )
        await uow.commit()
    unrecorded.discard(notification.id)
    if not kept:
        return "lost"
    return "delivered" if result.outcome is DeliveryOutcome.DELIVERED else "failed"


# --- the events API ---------------------------------------------------------------------------


async def list_events(
    uow_factory: UnitOfWorkFactory,
    caller: Caller,
    flt: EventFilter,
    *,
    after_id: str | None,
    settled_before: str,
    limit: int,
) -> tuple[Sequence[Notification], bool]:
    """Oldest first after the cursor, and only events whose id sorts before
    ``settled_before`` (see ``GET /v1/events``: a poller never skips a late commit)."""
    async with uow_factory() as uow:
        return await one_page(
            lambda n: uow.notifications.page(
                caller.agency_id, flt, after_id=after_id, before_id=settled_before, limit=n
            ),
            limit,
        )


async def get_event(uow_factory: UnitOfWorkFactory, caller: Caller, event_id: str) -> Notification:
    async with uow_factory() as uow:
        return await _visible_event(uow, caller, event_id)


async def event_deliveries(
    uow_factory: UnitOfWorkFactory, caller: Caller, event_id: str
) -> Sequence[DeliveryAttempt]:
    async with uow_factory() as uow:
        await _visible_event(uow, caller, event_id)
        return await uow.notifications.deliveries(event_id)


async def redeliver_event(
    uow_factory: UnitOfWorkFactory,
    caller: Caller,
    event_id: str,
    *,
    now: datetime,
    request_id: str | None = None,
) -> Notification:
    """Due now, even after a terminal failure (one more attempt; the ladder resumes after
    it if it has steps left)."""
    async with uow_factory() as uow:
        event = await _visible_event(uow, caller, event_id)
        await uow.notifications.reschedule(event_id, now)
        await uow.audit.record(
            AuditEntry(
                action="event.redelivery_requested",
                actor=caller.actor,
                occurred_at=now,
                agency_id=caller.agency_id,
                target_type="event",
                target_id=event_id,
                detail={"previous_state": event.state.value},
                request_id=request_id,
            )
        )
        await uow.commit()
    return replace(event, state=DeliveryState.PENDING, next_attempt_at=now)


async def _visible_event(uow: UnitOfWork, caller: Caller, event_id: str) -> Notification:
    event = await uow.notifications.get(caller.agency_id, event_id)
    if event is None:
        raise NotFound(f"no event {event_id!r}")
    return event


# --- agencies' notification settings -----------------------------------------------------------


async def set_default_notify_url(
    uow_factory: UnitOfWorkFactory,
    *,
    agency_code: str,
    url: str | None,
    allow_plain_http: bool,
    actor: str,
    now: datetime,
) -> None:
    """Where notifications go for the agency's payments without their own ``notify_url``;
    the same rules as a payment's (https, host on the allow-list). None clears it."""
    async with uow_factory() as uow:
        agency = await uow.agencies.by_code(agency_code)
        if agency is None:
            raise NotFound(f"no agency with code {agency_code!r}")
        if url is not None:
            problem = target_problem(url, agency.allowed_hosts, allow_plain_http=allow_plain_http)
            if problem:
                raise InvalidInput([FieldProblem("notify_url", problem)])
        await uow.notifications.set_default_url(agency.id, url)
        await uow.audit.record(
            AuditEntry(
                action="agency.notify_url_set",
                actor=actor,
                occurred_at=now,
                agency_id=agency.id,
                target_type="agency",
                target_id=agency.code,
                detail={"notify_url": url},
            )
        )
        await uow.commit()


async def rotate_webhook_secret(
    uow_factory: UnitOfWorkFactory,
    *,
    agency_code: str,
    overlap: timedelta,
    actor: str,
    now: datetime,
) -> str:
    """A new signing secret, returned once; the previous one keeps signing for ``overlap``."""
    secret = new_webhook_secret()
    async with uow_factory() as uow:
        agency = await uow.agencies.by_code(agency_code)
        if agency is None:
            raise NotFound(f"no agency with code {agency_code!r}")
        await uow.notifications.add_secret(agency.id, secret, now=now, previous_until=now + overlap)
        await uow.audit.record(
            AuditEntry(
                action="webhook_secret.rotated",
                actor=actor,
                occurred_at=now,
                agency_id=agency.id,
                target_type="agency",
                target_id=agency.code,
                detail={"previous_signs_until": (now + overlap).isoformat()},
            )
        )
        await uow.commit()
    return secret
