"""notifications: outbox events, delivery log, webhook secrets, daily job runs

- agencies.notify_url: default notification URL for payments without their own.
- notifications: one row per payment/refund status change, written in the same
  transaction (outbox), with its delivery state, schedule and worker claim.
- notification_deliveries: every delivery attempt (time, URL, status code, latency, error).
- webhook_secrets: per-agency signing secrets; two are active during a rotation.
- scheduled_runs: one row per (daily job, Vietnam business day): exactly one run per day
  across all workers.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch_op:
        batch_op.add_column(sa.Column("notify_url", sa.Text(), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("resource_type", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("target_url", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed', 'no_target')",
            name=op.f("ck_notifications_state"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_notifications_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_notifications_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_payment_id", "notifications", ["payment_id"])
    op.create_index("ix_notifications_agency_id_id", "notifications", ["agency_id", "id"])
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        "ix_notification_deliveries_notification_id",
        "notification_deliveries",
        ["notification_id"],
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retires_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_webhook_secrets_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
    )
    op.create_index("ix_webhook_secrets_agency_id", "webhook_secrets", ["agency_id"])
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("run_date", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'done', 'failed')", name=op.f("ck_scheduled_runs_state")
        ),
        sa.PrimaryKeyConstraint("job", "run_date", name=op.f("pk_scheduled_runs")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    op.drop_index("ix_webhook_secrets_agency_id", table_name="webhook_secrets")
    op.drop_table("webhook_secrets")
    op.drop_index(
        "ix_notification_deliveries_notification_id", table_name="notification_deliveries"
    )
    op.drop_table("notification_deliveries")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_index("ix_notifications_agency_id_id", table_name="notifications")
    op.drop_index("ix_notifications_payment_id", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("agencies") as batch_op:
        batch_op.drop_column("notify_url")
