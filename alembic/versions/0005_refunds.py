"""refunds: refunds of captured payments and their transitions

- refunds: one row per refund, with its provider request id (unique: the same id is the same
  refund at the provider), the officer who asked and the one who decided, the provider's
  answer and the next scheduled action. CHECKs: amount > 0 and within what the attempt
  captured, a known status, nobody approves their own request (four eyes), terminal refunds
  have no schedule and scheduled ones have one.
- refund_events: every transition with its cause and actor.
- A BEFORE INSERT trigger (both databases) refuses a refund that would take the live refunds
  of a payment (everything but failed and rejected) beyond what the payment captured. The
  service checks the same under the payment's row lock; the trigger is the backstop.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
STATUSES = (
    "status IN ('awaiting_approval', 'approved', 'processing', 'pending', 'unknown', "
    "'submitted', 'succeeded', 'failed', 'rejected')"
)
SCHEDULED = "status IN ('approved', 'processing', 'pending', 'unknown')"

PG_GUARD = [
    """
    CREATE FUNCTION refunds_within_capture() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        captured bigint;
        held bigint;
    BEGIN
        SELECT GREATEST(received_amount, amount) INTO captured
        FROM payments WHERE id = NEW.payment_id AND status = 'succeeded';
        SELECT COALESCE(SUM(amount), 0) INTO held FROM refunds
        WHERE payment_id = NEW.payment_id AND status NOT IN ('failed', 'rejected');
        IF captured IS NULL OR held + NEW.amount > captured THEN
            RAISE EXCEPTION 'refunds of payment % would exceed what it captured',
                NEW.payment_id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER refunds_within_capture BEFORE INSERT ON refunds "
    "FOR EACH ROW EXECUTE FUNCTION refunds_within_capture()",
]
SQLITE_GUARD = [
    """
    CREATE TRIGGER refunds_within_capture BEFORE INSERT ON refunds
    BEGIN
        SELECT RAISE(ABORT, 'refunds of a payment would exceed what it captured')
        WHERE (
            SELECT COALESCE(SUM(amount), 0) FROM refunds
            WHERE payment_id = NEW.payment_id AND status NOT IN ('failed', 'rejected')
        ) + NEW.amount > COALESCE((
            SELECT MAX(received_amount, amount) FROM payments
            WHERE id = NEW.payment_id AND status = 'succeeded'
        ), 0);
    END
    """
]


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), nullable=False),
        sa.Column("full_refund", sa.Boolean(), nullable=False),
        sa.Column("from_excess", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("rejected_by", sa.String(length=64), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("provider_requested_at", TS, nullable=True),
        sa.Column("provider_code", sa.String(length=32), nullable=True),
        sa.Column("provider_message", sa.Text(), nullable=True),
        sa.Column("provider_refund_id", sa.String(length=64), nullable=True),
        sa.Column("transfer_instruction", JSON, nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_action_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("settled_at", TS, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("amount <= captured_amount", name=op.f("ck_refunds_within_capture")),
        sa.CheckConstraint(
            "from_excess >= 0 AND from_excess <= amount", name=op.f("ck_refunds_from_excess")
        ),
        sa.CheckConstraint(STATUSES, name=op.f("ck_refunds_status")),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> requested_by", name=op.f("ck_refunds_four_eyes")
        ),
        sa.CheckConstraint(
            "status NOT IN ('succeeded', 'failed', 'rejected') OR next_action_at IS NULL",
            name=op.f("ck_refunds_terminal_unscheduled"),
        ),
        sa.CheckConstraint(
            f"NOT ({SCHEDULED}) OR next_action_at IS NOT NULL",
            name=op.f("ck_refunds_scheduled_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_refunds_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["payment_attempts.id"],
            name=op.f("fk_refunds_attempt_id_payment_attempts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("request_id", name=op.f("uq_refunds_request_id")),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])
    op.create_index("ix_refunds_agency_id_id", "refunds", ["agency_id", "id"])
    op.create_index(
        "ix_refunds_due",
        "refunds",
        ["next_action_at"],
        postgresql_where=sa.text(SCHEDULED),
        sqlite_where=sa.text(SCHEDULED),
    )
    op.create_table(
        "refund_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_refund_events_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refund_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_events")),
    )
    op.create_index("ix_refund_events_refund_id", "refund_events", ["refund_id"])
    guard = PG_GUARD if op.get_bind().dialect.name == "postgresql" else SQLITE_GUARD
    for statement in guard:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER refunds_within_capture ON refunds")
        op.execute("DROP FUNCTION refunds_within_capture()")
    else:
        op.execute("DROP TRIGGER refunds_within_capture")
    op.drop_index("ix_refund_events_refund_id", table_name="refund_events")
    op.drop_table("refund_events")
    op.drop_index("ix_refunds_due", table_name="refunds")
    op.drop_index("ix_refunds_agency_id_id", table_name="refunds")
    op.drop_index("ix_refunds_payment_id", table_name="refunds")
    op.drop_table("refunds")
