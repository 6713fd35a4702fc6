"""payment requests core

Revision ID: 0001
Revises:
Create Date: 2026-11-22 10:36:46.672973
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "allowed_hosts",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("code", name=op.f("uq_agencies_code")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('portal', 'finance', 'treasury', 'admin')", name=op.f("ck_api_keys_role")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_api_keys_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_audit_log_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "idempotency_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_idempotency_records_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("agency_id", "key", name=op.f("uq_idempotency_records_agency_id_key")),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("payer_name", sa.Text(), nullable=False),
        sa.Column("payer_id_number", sa.String(length=20), nullable=True),
        sa.Column("payer_tax_code", sa.String(length=14), nullable=True),
        sa.Column("payer_email", sa.Text(), nullable=True),
        sa.Column("payer_phone", sa.String(length=16), nullable=True),
        sa.Column("treasury_account", sa.String(length=4), nullable=False),
        sa.Column("treasury_code", sa.String(length=20), nullable=False),
        sa.Column("collecting_agency", sa.String(length=20), nullable=False),
        sa.Column("chapter", sa.String(length=3), nullable=False),
        sa.Column("sub_item", sa.String(length=4), nullable=False),
        sa.Column("area", sa.String(length=10), nullable=True),
        sa.Column("tax_code", sa.String(length=14), nullable=True),
        sa.Column("declaration_number", sa.String(length=12), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checkout_token", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('fee', 'charge', 'tax', 'customs_duty')", name=op.f("ck_payments_kind")
        ),
        sa.CheckConstraint(
            "status IN ('created', 'pending', 'succeeded', 'failed', 'cancelled', 'expired')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_payments_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("checkout_token", name=op.f("uq_payments_checkout_token")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_agency_id_id", ["agency_id", "id"], unique=False)
        batch_op.create_index(
            "ix_payments_agency_id_reference", ["agency_id", "reference"], unique=False
        )
        batch_op.create_index(
            "ix_payments_expiry",
            ["expires_at"],
            unique=False,
            postgresql_where=sa.text("status IN ('created', 'pending', 'failed')"),
            sqlite_where=sa.text("status IN ('created', 'pending', 'failed')"),
        )
        batch_op.create_index(
            "uq_payments_open_reference",
            ["agency_id", "reference"],
            unique=True,
            postgresql_where=sa.text("status IN ('created', 'pending', 'failed', 'succeeded')"),
            sqlite_where=sa.text("status IN ('created', 'pending', 'failed', 'succeeded')"),
        )

    op.create_table(
        "payment_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_events_payment_id"), ["payment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_events_payment_id"))

    op.drop_table("payment_events")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payments_open_reference",
            postgresql_where=sa.text("status IN ('created', 'pending', 'failed', 'succeeded')"),
            sqlite_where=sa.text("status IN ('created', 'pending', 'failed', 'succeeded')"),
        )
        batch_op.drop_index(
            "ix_payments_expiry",
            postgresql_where=sa.text("status IN ('created', 'pending', 'failed')"),
            sqlite_where=sa.text("status IN ('created', 'pending', 'failed')"),
        )
        batch_op.drop_index("ix_payments_agency_id_reference")
        batch_op.drop_index("ix_payments_agency_id_id")

    op.drop_table("payments")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_expires_at"))

    op.drop_table("idempotency_records")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target")

    op.drop_table("audit_log")
    op.drop_table("api_keys")
    op.drop_table("agencies")
