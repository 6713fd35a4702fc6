"""Notifications to portals: the outbox row written with every status change, and its
delivery schedule.

An event is written in the same transaction as the change it reports (outbox), so a
committed change always has its event and a rolled-back one never does. Delivery follows
``protocols/outbound-notifications.md``: a retry ladder, then a terminal failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from payments.domain.ids import new_ulid


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
    return "evt_" + new_ulid(now)


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
