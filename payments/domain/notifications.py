"""Notifications to portals: the outbox row written with every status change, and its
delivery schedule.

An event is written in the same transaction as the change it reports (outbox), so a
committed change always has its event and a rolled-back one never does. Delivery follows
``protocols/outbound-notifications.md``: a retry ladder, then a terminal failure.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from payments.domain import urls
from payments.domain.ids import new_ulid

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)
EVENT_ID_PREFIX = "evt_"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # the ladder ran out
    NO_TARGET = "no_target"  # neither the payment nor its agency has a notify URL: poll only


# Wait before attempt n+1 after attempt n failed (protocols/outbound-notifications.md).
RETRY_LADDER: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(days=1),
    timedelta(days=2),
)


def next_attempt_after(failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``failed_attempts`` failures; None once the ladder is spent."""
    if failed_attempts < 1:
        return now
    if failed_attempts > len(RETRY_LADDER):
        return None
    return now + RETRY_LADDER[failed_attempts - 1]


def new_event_id(now: datetime) -> str:
    """Also the ``webhook-id`` header: unique per event, stable across retries."""
    return EVENT_ID_PREFIX + new_ulid(now)


@dataclass(frozen=True)
class Notification:
    """One event for one agency's portal, with the resource as the API shows it then."""

    id: str
    agency_id: int
    type: str  # "payment.succeeded", "refund.failed", ...
    resource_type: str  # "payment" | "refund"
    resource_id: str
    payment_id: str
    data: Mapping[str, Any]
    occurred_at: datetime
    # The payment's notify_url when it has one; None means "the agency's default, if any",
    # resolved when delivering (so a default set later still reaches older events).
    target_url: str | None = None
    state: DeliveryState = DeliveryState.PENDING
    attempt_count: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        """The JSON body posted to the portal and listed by ``GET /v1/events``."""
        return {
            "id": self.id,
            "object": "event",
            "type": self.type,
            "created_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": dict(self.data),
        }

    def body(self) -> bytes:
        """The envelope as posted: canonical JSON (sorted keys), so every retry sends the
        very same bytes whatever order the database hands the stored resource back in."""
        return json.dumps(
            self.envelope(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


def new_webhook_secret() -> str:
    """A portal's signing secret as Standard Webhooks writes it: ``whsec_`` + base64 of 32
    random bytes. Shown once to the operator; it must be stored as is (HMAC needs it)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"  # a 2xx answer
    REJECTED = "rejected"  # any other status code
    TIMEOUT = "timeout"  # no answer in time
    ERROR = "error"  # connection refused, TLS, DNS, ...
    BLOCKED = "blocked"  # the URL is not (or no longer) on the agency's allow-list: not sent


@dataclass(frozen=True)
class PostResult:
    """What one HTTP post of a notification came to."""

    outcome: DeliveryOutcome
    status_code: int | None
    latency_ms: int
    error: str | None = None


@dataclass(frozen=True)
class DeliveryAttempt:
    """One row of the delivery log."""

    notification_id: str
    attempt_no: int
    started_at: datetime
    url: str
    outcome: DeliveryOutcome
    status_code: int | None
    latency_ms: int
    error: str | None
    worker: str


@dataclass(frozen=True)
class OutgoingWebhook:
    """Everything the sender needs: it signs ``id.timestamp.body`` with every active secret."""

    url: str
    event_id: str
    body: bytes
    secrets: tuple[str, ...]


def after_attempt(notification: Notification, result: PostResult, now: datetime) -> Notification:
    """The notification once an attempt ended: delivered, scheduled again, or failed for good.

    The attempt count only grows, so a redelivery asked after the ladder ran out gets exactly
    one more try before it is failed again.
    """
    count = notification.attempt_count + 1
    if result.outcome is DeliveryOutcome.DELIVERED:
        return replace(
            notification,
            state=DeliveryState.DELIVERED,
            attempt_count=count,
            next_attempt_at=None,
            delivered_at=now,
        )
    retry_at = next_attempt_after(count, now)
    return replace(
        notification,
        state=DeliveryState.PENDING if retry_at else DeliveryState.FAILED,
        attempt_count=count,
        next_attempt_at=retry_at,
    )


def target_problem(
    url: str, allowed_hosts: frozenset[str], *, allow_plain_http: bool
) -> str | None:
    """Why a notification may not go to ``url`` (None: it may): the same rules as a
    payment's ``notify_url`` at creation, checked again at delivery time in live mode so a
    host later removed from the allow-list receives nothing more."""
    return urls.url_problem(url, allowed_hosts, allow_plain_http=allow_plain_http)


def event_id_bound(moment: datetime) -> str:
    """The smallest id an event minted at ``moment`` can have: ids below it are older."""
    return EVENT_ID_PREFIX + new_ulid(moment)[:10] + "0" * 16
