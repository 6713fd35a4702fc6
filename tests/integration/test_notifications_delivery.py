"""Delivering notifications to a live receiver that verifies them with ``standardwebhooks``:
signatures through a secret rotation, the retry ladder, terminal failure and redelivery,
claims that lapse and are taken over, and targets that cannot receive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from payments.domain.notifications import RETRY_LADDER, DeliveryOutcome, DeliveryState
from payments.notifications.delivery import HttpWebhookSender
from payments.notifications.usecases import (
    DeliveryPolicy,
    DeliveryReport,
    deliver_due_notifications,
    redeliver_event,
    rotate_webhook_secret,
    set_default_notify_url,
)
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.notification_events import agency_with_secret, cancelled_payment_event
from tests.support.webhook_receiver import Receiver, free_port, serving

LEASE = timedelta(seconds=60)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def deliver(
    uow: SqlUnitOfWorkFactory,
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    worker: str = "w1",
    live: bool = False,
) -> DeliveryReport:
    sender = HttpWebhookSender(http, timeout_seconds=1)
    policy = DeliveryPolicy(worker=worker, lease=LEASE, live=live)
    return await deliver_due_notifications(uow, sender, policy, clock=clock)


async def test_every_notification_verifies_with_standardwebhooks_through_a_rotation(
    uow_factory: SqlUnitOfWorkFactory, http: httpx.AsyncClient
) -> None:
    clock = Clock(datetime.now(UTC))
    port = free_port()
    agency = await agency_with_secret(uow_factory, clock.now, ports=(port,))
    old = agency.secret
    receiver = Receiver([old])
    async with serving(receiver, port) as base:
        url = f"{base}/notify"
        first = await cancelled_payment_event(uow_factory, agency, clock.now, url)
        assert (await deliver(uow_factory, http, clock)).delivered == 1

        new = await rotate_webhook_secret(
            uow_factory,
            agency_code=agency.caller.agency_code,
            overlap=timedelta(hours=24),
            actor="test",
            now=clock.now,
        )
        assert new.startswith("whsec_")
        assert new != old
        receiver.secrets = [old, new]  # checked one by one: each must verify on its own
        second = await cancelled_payment_event(uow_factory, agency, clock.now, url)
        assert (await deliver(uow_factory, http, clock)).delivered == 1

        clock.now += timedelta(hours=25)  # the overlap is over: only the new secret signs
        third = await cancelled_payment_event(uow_factory, agency, clock.now, url)
        assert (await deliver(uow_factory, http, clock)).delivered == 1

    assert receiver.ids() == [first.id, second.id, third.id]
    assert all(r.answered == 200 for r in receiver.received)
    assert [r.verified_by for r in receiver.received] == [(old,), (old, new), (new,)]
    assert [len(r.signatures.split(" ")) for r in receiver.received] == [1, 2, 1]
    assert receiver.received[0].envelope == {**first.envelope()}
    assert receiver.received[0].envelope["data"]["status"] == "cancelled"


async def test_retry_ladder_timeout_refusal_and_recovery(
    uow_factory: SqlUnitOfWorkFactory, http: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC)
    clock = Clock(start)
    port, silent = free_port(), free_port()
    agency = await agency_with_secret(uow_factory, clock.now, ports=(port, silent))
    receiver = Receiver([agency.secret], script=["fail", "slow", "ok"])
    code = agency.caller.agency_code
    async with serving(receiver, port) as base:

        async def default_url(url: str) -> None:
            await set_default_notify_url(
                uow_factory,
                agency_code=code,
                url=url,
                allow_plain_http=True,
                actor="test",
                now=clock.now,
            )

        # No notify_url of its own: the agency's default, resolved at every attempt.
        await default_url(f"{base}/notify")
        event = await cancelled_payment_event(uow_factory, agency, clock.now, None)

        assert (await deliver(uow_factory, http, clock)).failed == 1  # 500
        clock.now += RETRY_LADDER[0] - timedelta(seconds=1)
        assert (await deliver(uow_factory, http, clock)).claimed == 0  # not due yet
        clock.now += timedelta(seconds=1)
        assert (await deliver(uow_factory, http, clock)).failed == 1  # too slow: timeout
        clock.now += RETRY_LADDER[1]
        await default_url(f"http://127.0.0.1:{silent}/notify")  # nobody listens
        assert (await deliver(uow_factory, http, clock)).failed == 1
        clock.now += RETRY_LADDER[2]
        await default_url(f"{base}/notify")
        assert (await deliver(uow_factory, http, clock)).delivered == 1
        assert (await deliver(uow_factory, http, clock)).claimed == 0

    async with uow_factory() as tx:
        attempts = await tx.notifications.deliveries(event.id)
        stored = await tx.notifications.get(agency.caller.agency_id, event.id)
    assert [a.outcome for a in attempts] == [
        DeliveryOutcome.REJECTED,
        DeliveryOutcome.TIMEOUT,
        DeliveryOutcome.ERROR,
        DeliveryOutcome.DELIVERED,
    ]
    assert [a.status_code for a in attempts] == [500, None, None, 200]
    assert [a.attempt_no for a in attempts] == [1, 2, 3, 4]
    assert [a.started_at - start for a in attempts] == [
        timedelta(0),
        RETRY_LADDER[0],
        RETRY_LADDER[0] + RETRY_LADDER[1],
        RETRY_LADDER[0] + RETRY_LADDER[1] + RETRY_LADDER[2],
    ]
    assert attempts[1].latency_ms >= 900  # waited for the 1 s timeout
    assert all(a.latency_ms >= 0 and a.worker == "w1" for a in attempts)
    assert "Connect" in (attempts[2].error or "")
    assert stored is not None
    assert (stored.state, stored.attempt_count) == (DeliveryState.DELIVERED, 4)
    assert stored.delivered_at == clock.now
    # Three requests reached the receiver: one id, byte-identical bodies, all verified.
    assert receiver.ids() == [event.id] * 3
    assert len({r.body for r in receiver.received}) == 1
    assert receiver.received[0].body == event.body()
    assert all(r.verified_by == (agency.secret,) for r in receiver.received)


async def test_terminal_failure_after_the_ladder_then_redelivery(
    uow_factory: SqlUnitOfWorkFactory, http: httpx.AsyncClient
) -> None:
    clock = Clock(datetime.now(UTC))
    port = free_port()
    agency = await agency_with_secret(uow_factory, clock.now, ports=(port,))
    receiver = Receiver([agency.secret], script=["fail"] * (len(RETRY_LADDER) + 1))
    async with serving(receiver, port) as base:
        event = await cancelled_payment_event(uow_factory, agency, clock.now, f"{base}/n")
        for step in [*RETRY_LADDER, None]:
            assert (await deliver(uow_factory, http, clock)).failed == 1
            if step is not None:
                clock.now += step
        clock.now += timedelta(days=30)
        assert (await deliver(uow_factory, http, clock)).claimed == 0  # failed for good
        async with uow_factory() as tx:
            failed = await tx.notifications.get(agency.caller.agency_id, event.id)
        assert failed is not None
        assert (failed.state, failed.attempt_count, failed.next_attempt_at) == (
            DeliveryState.FAILED,
            len(RETRY_LADDER) + 1,
            None,
        )

        again = await redeliver_event(uow_factory, agency.caller, event.id, now=clock.now)
        assert (again.state, again.next_attempt_at) == (DeliveryState.PENDING, clock.now)
        assert (await deliver(uow_factory, http, clock)).delivered == 1

    async with uow_factory() as tx:
        attempts = await tx.notifications.deliveries(event.id)
        done = await tx.notifications.get(agency.caller.agency_id, event.id)
    assert len(attempts) == len(RETRY_LADDER) + 2
    assert attempts[-1].outcome is DeliveryOutcome.DELIVERED
    assert done is not None
    assert done.state is DeliveryState.DELIVERED
    assert len(receiver.received) == len(RETRY_LADDER) + 2
    assert len({r.body for r in receiver.received}) == 1


async def test_a_lapsed_claim_is_taken_over_and_the_old_holder_cannot_record(
    uow_factory: SqlUnitOfWorkFactory, http: httpx.AsyncClient
) -> None:
    clock = Clock(datetime.now(UTC))
    port = free_port()
    agency = await agency_with_secret(uow_factory, clock.now, ports=(port,))
    receiver = Receiver([agency.secret])
    async with serving(receiver, port) as base:
        event = await cancelled_payment_event(uow_factory, agency, clock.now, f"{base}/n")
        async with uow_factory() as tx:  # worker "dead" claims, then dies before sending
            held = await tx.notifications.claim_due(
                now=clock.now, worker="dead", until=clock.now + LEASE, limit=10
            )
            await tx.commit()
        assert [n.id for n in held] == [event.id]

        clock.now += LEASE - timedelta(seconds=1)
        assert (await deliver(uow_factory, http, clock, worker="alive")).claimed == 0
        clock.now += timedelta(seconds=1)
        assert (await deliver(uow_factory, http, clock, worker="alive")).delivered == 1

    async with uow_factory() as tx:
        late = await tx.notifications.finish(held[0], worker="dead", claimed_count=0)
        await tx.commit()
    assert late is False  # fenced: the dead worker's result would not be recorded
    assert receiver.ids() == [event.id]


async def test_targets_that_cannot_receive(
    uow_factory: SqlUnitOfWorkFactory, http: httpx.AsyncClient
) -> None:
    clock = Clock(datetime.now(UTC))
    agency = await agency_with_secret(uow_factory, clock.now)
    no_target = await cancelled_payment_event(uow_factory, agency, clock.now, None)
    # Live mode: plain http, and a host the agency no longer allows, are never posted to.
    plain = await cancelled_payment_event(uow_factory, agency, clock.now, "http://127.0.0.1/n")
    report = await deliver(uow_factory, http, clock, live=True)
    assert (report.claimed, report.delivered, report.failed) == (2, 0, 1)
    async with uow_factory() as tx:
        silent = await tx.notifications.get(agency.caller.agency_id, no_target.id)
        blocked = await tx.notifications.deliveries(plain.id)
        assert await tx.notifications.deliveries(no_target.id) == []
    assert silent is not None
    assert silent.state is DeliveryState.NO_TARGET
    assert [(a.outcome, a.status_code) for a in blocked] == [(DeliveryOutcome.BLOCKED, None)]
    assert "https" in (blocked[0].error or "")


@pytest.mark.postgres_only
async def test_concurrent_claimers_skip_each_others_rows(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    now = datetime.now(UTC)
    agency = await agency_with_secret(uow_factory, now)
    events = [
        await cancelled_payment_event(uow_factory, agency, now, "https://portal.example.vn/n")
        for _ in range(30)
    ]
    async with uow_factory() as first, uow_factory() as second:
        mine = await first.notifications.claim_due(now=now, worker="a", until=now + LEASE, limit=20)
        theirs = await second.notifications.claim_due(
            now=now, worker="b", until=now + LEASE, limit=20
        )
        await first.commit()
        await second.commit()
    assert (len(mine), len(theirs)) == (20, 10)
    assert {n.id for n in mine} | {n.id for n in theirs} == {e.id for e in events}
