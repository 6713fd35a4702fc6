"""checkout: payment attempts, provider callbacks, payment review flags

- payment_attempts: one row per provider try; (provider, provider_ref) unique; a partial
  unique index lets at most one attempt of a payment be 'succeeded'; requery schedule.
- provider_callbacks: every raw provider message with its verification result and verdict.
- bank_credits: VietQR transfers, unique per bank transfer id; unmatched ones await
  reconciliation.
- payments: late / needs_review flags, amount received and amount overpaid.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ATTEMPT_STATUSES = "status IN ('pending', 'succeeded', 'failed', 'unknown', 'duplicate_capture')"


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        batch_op.add_column(
            sa.Column("received_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("overpaid_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=False),
        sa.Column("merchant", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider_txn_id", sa.String(length=100), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_query_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("query_count", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_attempts_amount_positive")),
        sa.CheckConstraint(ATTEMPT_STATUSES, name=op.f("ck_payment_attempts_status")),
        sa.CheckConstraint(
            "provider IN ('vnpay', 'momo', 'vietqr')", name=op.f("ck_payment_attempts_provider")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_attempts_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
        sa.UniqueConstraint(
            "provider", "provider_ref", name=op.f("uq_payment_attempts_provider_provider_ref")
        ),
    )
    op.create_index("ix_payment_attempts_payment_id", "payment_attempts", ["payment_id"])
    op.create_index(
        "uq_payment_attempts_one_success",
        "payment_attempts",
        ["payment_id"],
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
        sqlite_where=sa.text("status = 'succeeded'"),
    )
    op.create_index(
        "ix_payment_attempts_requery",
        "payment_attempts",
        ["next_query_at"],
        postgresql_where=sa.text("next_query_at IS NOT NULL"),
        sqlite_where=sa.text("next_query_at IS NOT NULL"),
    )
    op.create_table(
        "provider_callbacks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("verification", sa.String(length=32), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("attempt_id", sa.String(length=40), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_provider_callbacks_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["payment_attempts.id"],
            name=op.f("fk_provider_callbacks_attempt_id_payment_attempts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_callbacks")),
    )
    op.create_index("ix_provider_callbacks_payment_id", "provider_callbacks", ["payment_id"])
    op.create_index(
        "ix_provider_callbacks_provider_received_at",
        "provider_callbacks",
        ["provider", "received_at"],
    )
    op.create_table(
        "bank_credits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("attempt_id", sa.String(length=40), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bank_credits_amount_positive")),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["payment_attempts.id"],
            name=op.f("fk_bank_credits_attempt_id_payment_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_bank_credits_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_credits")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_bank_credits_transfer_id")),
    )
    op.create_index("ix_bank_credits_payment_id", "bank_credits", ["payment_id"])
    op.create_index(
        "ix_bank_credits_unmatched",
        "bank_credits",
        ["received_at"],
        postgresql_where=sa.text("payment_id IS NULL"),
        sqlite_where=sa.text("payment_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("bank_credits")
    op.drop_table("provider_callbacks")
    op.drop_table("payment_attempts")
    with op.batch_alter_table("payments") as batch_op:
        for column in ("overpaid_amount", "received_amount", "needs_review", "late"):
            batch_op.drop_column(column)
