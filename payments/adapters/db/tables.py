"""Tables of the payment-request core: agencies, keys, payments, events, idempotency, audit."""

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
    UniqueConstraint,
    text,
)

from payments.db.metadata import metadata
from payments.db.types import BigId, Json, UtcDateTime

OPEN_STATUSES_SQL = "status IN ('created', 'pending', 'failed', 'succeeded')"

agencies = Table(
    "agencies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("allowed_hosts", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Where notifications go for payments created without their own notify_url.
    Column("notify_url", Text),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agency_id", Integer, ForeignKey("agencies.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("label", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    # Requests a minute for this key alone (NULL: PAYMENTS_RATE_LIMIT_PER_MINUTE; 0: none).
    Column("rate_limit_per_minute", Integer),
    CheckConstraint("role IN ('portal', 'finance', 'treasury', 'admin')", name="role"),
)

# Each key's request count per UTC minute, shared by every web process: a process leases a
# block of it at a time (payments/domain/rate_limits.py). Windows older than the previous
# minute are purged by the worker. No index beyond the key: updates of `used` stay HOT.
rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), primary_key=True),
    Column("window_start", UtcDateTime, primary_key=True),
    Column("used", Integer, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agency_id", Integer, ForeignKey("agencies.id"), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", Text, nullable=False),
    Column("payer_name", Text, nullable=False),
    Column("payer_id_number", String(20)),
    Column("payer_tax_code", String(14)),
    Column("payer_email", Text),
    Column("payer_phone", String(16)),
    Column("treasury_account", String(4), nullable=False),
    Column("treasury_code", String(20), nullable=False),
    Column("collecting_agency", String(20), nullable=False),
    Column("chapter", String(3), nullable=False),
    Column("sub_item", String(4), nullable=False),
    Column("area", String(10)),
    Column("tax_code", String(14)),
    Column("declaration_number", String(12)),
    Column("return_url", Text, nullable=False),
    Column("notify_url", Text),
    Column("metadata", Json, nullable=False),
    Column("status", String(16), nullable=False),
    Column("checkout_token", String(64), nullable=False, unique=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("late", Boolean, nullable=False, server_default=text("false")),
    Column("needs_review", Boolean, nullable=False, server_default=text("false")),
    Column("received_amount", BigInteger, nullable=False, server_default=text("0")),
    Column("overpaid_amount", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "status IN ('created', 'pending', 'succeeded', 'failed', 'cancelled', 'expired')",
        name="status",
    ),
    CheckConstraint("kind IN ('fee', 'charge', 'tax', 'customs_duty')", name="kind"),
    Index("ix_payments_agency_id_id", "agency_id", "id"),
    Index("ix_payments_agency_id_reference", "agency_id", "reference"),
    # One open payment per portal reference, even under concurrent creation.
    Index(
        "uq_payments_open_reference",
        "agency_id",
        "reference",
        unique=True,
        postgresql_where=text(OPEN_STATUSES_SQL),
        sqlite_where=text(OPEN_STATUSES_SQL),
    ),
    Index(
        "ix_payments_expiry",
        "expires_at",
        postgresql_where=text("status IN ('created', 'pending', 'failed')"),
        sqlite_where=text("status IN ('created', 'pending', 'failed')"),
    ),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False, index=True),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("cause", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", Json, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("agency_id", Integer, ForeignKey("agencies.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    UniqueConstraint("agency_id", "key"),
)

# Append-only: migration 0011 makes the database refuse UPDATE, DELETE, TRUNCATE (PostgreSQL)
# and REPLACE (SQLite) of its rows.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("agency_id", Integer, ForeignKey("agencies.id")),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32)),
    Column("target_id", String(64)),
    Column("detail", Json, nullable=False),
    Column("request_id", String(64)),
    Index("ix_audit_log_target", "target_type", "target_id"),
    # GET /v1/audit-log: each filter pages newest first by id (0011).
    Index("ix_audit_log_actor_id", "actor", "id"),
    Index("ix_audit_log_action_id", "action", "id"),
    Index("ix_audit_log_occurred_at", "occurred_at"),
)

ATTEMPT_STATUSES_SQL = (
    "status IN ('pending', 'succeeded', 'failed', 'unknown', 'duplicate_capture')"
)

payment_attempts = Table(
    "payment_attempts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False, index=True),
    Column("provider", String(16), nullable=False),
    Column("provider_ref", String(100), nullable=False),
    Column("merchant", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("provider_txn_id", String(100)),
    Column("result_code", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("next_query_at", UtcDateTime),
    Column("query_count", Integer, nullable=False, server_default=text("0")),
    # The provider's page the payer was sent to: choosing the provider again goes back there.
    Column("redirect_url", Text),
    # Still open when its query ladder ended: nobody asks the provider again, people look.
    Column("left_for_review_at", UtcDateTime),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(ATTEMPT_STATUSES_SQL, name="status"),
    CheckConstraint("provider IN ('vnpay', 'momo', 'vietqr')", name="provider"),
    UniqueConstraint("provider", "provider_ref"),
    # At most one attempt of a payment takes its money, whatever the code above does.
    Index(
        "uq_payment_attempts_one_success",
        "payment_id",
        unique=True,
        postgresql_where=text("status = 'succeeded'"),
        sqlite_where=text("status = 'succeeded'"),
    ),
    Index(
        "ix_payment_attempts_requery",
        "next_query_at",
        postgresql_where=text("next_query_at IS NOT NULL"),
        sqlite_where=text("next_query_at IS NOT NULL"),
    ),
    Index(
        "ix_payment_attempts_left_for_review",
        "payment_id",
        postgresql_where=text("left_for_review_at IS NOT NULL"),
        sqlite_where=text("left_for_review_at IS NOT NULL"),
    ),
)

provider_callbacks = Table(
    "provider_callbacks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("provider", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    Column("verification", String(32), nullable=False),
    Column("provider_ref", String(100)),
    Column("payment_id", String(40), ForeignKey("payments.id"), index=True),
    Column("attempt_id", String(40), ForeignKey("payment_attempts.id")),
    Column("verdict", String(16)),
    Column("reason", Text, nullable=False),
    Column("detail", Json, nullable=False),
    Index("ix_provider_callbacks_provider_received_at", "provider", "received_at"),
)

bank_credits = Table(
    "bank_credits",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transfer_id", String(64), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", Text, nullable=False),
    Column("credited_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("reference", String(100)),
    Column("attempt_id", String(40), ForeignKey("payment_attempts.id")),
    Column("payment_id", String(40), ForeignKey("payments.id"), index=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index(
        "ix_bank_credits_unmatched",
        "received_at",
        postgresql_where=text("payment_id IS NULL"),
        sqlite_where=text("payment_id IS NULL"),
    ),
)
