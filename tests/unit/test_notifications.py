"""Notification rules without I/O: the ladder, signatures checked against the
``standardwebhooks`` package, canonical bodies, and delivery on in-memory fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from payments.domain.notifications import (
    RETRY_LADDER,
    DeliveryOutcome,
    DeliveryState,
    Notification,
    OutgoingWebhook,
    PostResult,
    after_attempt,
    event_id_bound,
    new_event_id,
    new_webhook_secret,
    target_problem,
)
from payments.notifications.delivery import signature, signed_headers
from payments.notifications.usecases import DeliveryPolicy, deliver_due_notifications
from tests.unit.fakes import FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def event(**changes: object) -> Notification:
    base = Notification(
        id=new_event_id(NOW),
        agency_id=1,
        type="payment.succeeded",
        resource_type="payment",
        resource_id="pay_1",
        payment_id="pay_1",
        data={"id": "pay_1", "status": "succeeded", "amount": 150_000, "payer": {"name": "Ấn"}},
        occurred_at=NOW,
        target_url="https://portal.example.vn/n",
        next_attempt_at=NOW,
    )
    return Notification(**{**base.__dict__, **changes})


def test_the_ladder_then_a_terminal_failure() -> None:
    failed = PostResult(DeliveryOutcome.REJECTED, 500, 12, "HTTP 500")
    current, now, waits = event(), NOW, []
    while current.state is DeliveryState.PENDING:
        current = after_attempt(current, failed, now)
        if current.next_attempt_at is not None:
            waits.append(current.next_attempt_at - now)
            now = current.next_attempt_at
    assert tuple(waits) == RETRY_LADDER
    assert (current.state, current.attempt_count) == (DeliveryState.FAILED, 7)
    delivered = after_attempt(event(), PostResult(DeliveryOutcome.DELIVERED, 204, 5), NOW)
    assert (delivered.state, delivered.delivered_at, delivered.next_attempt_at) == (
        DeliveryState.DELIVERED,
        NOW,
        None,
    )


def test_our_signature_is_the_standard_webhooks_one() -> None:
    secret = new_webhook_secret()
    body = event().body()
    ours = signature(secret, "evt_1", 1_700_000_000, body)
    theirs = Webhook(secret).sign(
        "evt_1", datetime.fromtimestamp(1_700_000_000, UTC), body.decode()
    )
    assert ours == theirs


def test_every_active_secret_signs_and_the_library_accepts_each() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    message = OutgoingWebhook("https://p.vn/n", "evt_1", event().body(), (new, old))
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers(message, now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):  # a portal knowing either secret accepts the message
        assert Webhook(secret).verify(message.body, headers) == json.loads(message.body)


def test_the_body_is_canonical_whatever_the_stored_key_order() -> None:
    one = event()
    shuffled = Notification(**{**one.__dict__, "data": dict(reversed(list(one.data.items())))})
    assert one.body() == shuffled.body()
    assert json.loads(one.body())["data"]["payer"]["name"] == "Ấn"


def test_event_ids_sort_by_time_around_the_settle_bound() -> None:
    bound = event_id_bound(NOW)
    assert new_event_id(NOW - timedelta(milliseconds=1)) < bound <= new_event_id(NOW)


def test_targets_follow_the_creation_rules() -> None:
    hosts = frozenset({"portal.example.vn"})
    assert target_problem("https://portal.example.vn/n", hosts, allow_plain_http=False) is None
    assert target_problem("http://portal.example.vn/n", hosts, allow_plain_http=True) is None
    assert "https" in (
        target_problem("http://portal.example.vn/n", hosts, allow_plain_http=False) or ""
    )
    assert target_problem("https://u:p@portal.example.vn/", hosts, allow_plain_http=False)
    assert target_problem("https://evil.example/n", hosts, allow_plain_http=False)
    assert target_problem("https://[::1", hosts, allow_plain_http=False)


class Sender:
    def __init__(self, *results: PostResult) -> None:
        self.results = list(results)
        self.sent: list[OutgoingWebhook] = []

    async def __call__(self, message: OutgoingWebhook) -> PostResult:
        self.sent.append(message)
        return self.results.pop(0)


async def test_delivery_on_fakes_signs_with_the_agency_secrets_and_records_once() -> None:
    uow = FakeUnitOfWorkFactory()
    uow.store.outbox.secrets[1] = [("whsec_b2xk", None)]
    for agency_id in (1, 2):
        uow.store.outbox.allowed_hosts[agency_id] = frozenset({"portal.example.vn"})
    async with uow() as tx:
        await tx.notifications.add(event())
        await tx.notifications.add(event(id=new_event_id(NOW), agency_id=2))  # no secret
        await tx.commit()
    sender = Sender(PostResult(DeliveryOutcome.DELIVERED, 200, 3))
    policy = DeliveryPolicy(worker="w", lease=timedelta(minutes=1), live=True)
    report = await deliver_due_notifications(uow, sender, policy, clock=lambda: NOW)
    assert (report.claimed, report.delivered, report.failed, report.lost) == (2, 1, 1, 0)
    assert [m.secrets for m in sender.sent] == [("whsec_b2xk",)]
    blocked = [d for d in uow.store.outbox.deliveries if d.outcome is DeliveryOutcome.BLOCKED]
    assert [d.error for d in blocked] == ["the agency has no webhook secret yet"]
    again = await deliver_due_notifications(uow, sender, policy, clock=lambda: NOW)
    assert again.claimed == 0
