"""Tables of the outbox: notifications, their delivery log, the agencies' signing secrets."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from payments.db.metadata import metadata
from payments.db.types import BigId, Json, UtcDateTime

DELIVERY_STATES_SQL = "state IN ('pending', 'delivered', 'failed', 'no_target')"

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agency_id", Integer, ForeignKey("agencies.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(40), nullable=False),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False, index=True),
    Column("data", Json, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("target_url", Text),
    Column("state", String(16), nullable=False),
    Column("attempt_count", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime),
    # A worker's claim on the next attempt; another worker takes it over once it lapses.
    Column("claimed_by", String(64)),
    Column("claimed_until", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    CheckConstraint(DELIVERY_STATES_SQL, name="state"),
    Index("ix_notifications_agency_id_id", "agency_id", "id"),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        postgresql_where=text("state = 'pending'"),
        sqlite_where=text("state = 'pending'"),
    ),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "notification_id",
        String(40),
        ForeignKey("notifications.id"),
        nullable=False,
        index=True,
    ),
    Column("attempt_no", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("url", Text, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", Text),
    Column("worker", String(64), nullable=False),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agency_id", Integer, ForeignKey("agencies.id"), nullable=False, index=True),
    # The signing key itself (``whsec_...``): HMAC needs it, so it cannot be stored hashed.
    Column("secret", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Set on rotation: the old secret keeps signing beside the new one until then.
    Column("retires_at", UtcDateTime),
)
