"""Tables of refunds: the refunds and every transition of each, with its cause and actor."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

REFUND_STATUSES_SQL = (
    "status IN ('awaiting_approval', 'approved', 'processing', 'pending', 'unknown', "
    "'submitted', 'succeeded', 'failed', 'rejected')"
)
SCHEDULED_SQL = "status IN ('approved', 'processing', 'pending', 'unknown')"

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False, index=True),
    Column("agency_id", Integer, ForeignKey("agencies.id"), nullable=False),
    Column("attempt_id", String(40), ForeignKey("payment_attempts.id"), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("captured_amount", BigInteger, nullable=False),
    Column("full_refund", Boolean, nullable=False),
    Column("from_excess", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("approved_by", String(64)),
    Column("rejected_by", String(64)),
    Column("decision_note", Text),
    # The provider request id: unique, so two refunds can never share one at the provider.
    Column("request_id", String(50), nullable=False, unique=True),
    Column("provider_requested_at", UtcDateTime),
    Column("provider_code", String(32)),
    Column("provider_message", Text),
    Column("provider_refund_id", String(64)),
    Column("transfer_instruction", Json),
    Column("checks", Integer, nullable=False, server_default=text("0")),
    Column("next_action_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("settled_at", UtcDateTime),
    # Raised to people: the provider gave no certain answer by the end of the check ladder.
    Column("escalated_at", UtcDateTime),
    # A finance officer's proposed settlement by hand, waiting for a second officer.
    Column("resolution_outcome", String(16)),
    Column("resolution_reference", String(64)),
    Column("resolution_note", Text),
    Column("resolution_by", String(64)),
    Column("resolution_at", UtcDateTime),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("amount <= captured_amount", name="within_capture"),
    CheckConstraint("from_excess >= 0 AND from_excess <= amount", name="from_excess"),
    CheckConstraint(REFUND_STATUSES_SQL, name="status"),
    # Four eyes, in the database too: nobody approves their own request.
    CheckConstraint("approved_by IS NULL OR approved_by <> requested_by", name="four_eyes"),
    CheckConstraint(
        "status NOT IN ('succeeded', 'failed', 'rejected') OR next_action_at IS NULL",
        name="terminal_unscheduled",
    ),
    CheckConstraint(
        f"NOT ({SCHEDULED_SQL}) OR next_action_at IS NOT NULL", name="scheduled_has_time"
    ),
    Index("ix_refunds_agency_id_id", "agency_id", "id"),
    # One provider refund number is one refund: an answer about a sibling is never booked twice.
    Index(
        "ux_refunds_provider_refund_id",
        "provider",
        "provider_refund_id",
        unique=True,
        postgresql_where=text("provider_refund_id IS NOT NULL"),
        sqlite_where=text("provider_refund_id IS NOT NULL"),
    ),
    Index(
        "ix_refunds_due",
        "next_action_at",
        postgresql_where=text(SCHEDULED_SQL),
        sqlite_where=text(SCHEDULED_SQL),
    ),
)

refund_events = Table(
    "refund_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("refund_id", String(40), ForeignKey("refunds.id"), nullable=False, index=True),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False),
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    Column("cause", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", Json, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
)
