"""reconciliation: imported statements, runs, items and their workflow, posted remittances

- reconcile_statements (content_hash unique: the same file imported twice stores nothing new)
  and reconcile_statement_lines keyed (statement, line number); a provider's settlement report
  is a statement too, with reconcile_settlement_lines;
- reconcile_runs and reconcile_items: every run of a business day and what it found; items
  carry the exception workflow (open -> resolved with note, actor and time; CHECK ties the
  three together);
- reconcile_item_history: the story of an item across reruns, by day and stable item key;
- reconcile_remittances: one row per payment whose remittance the ledger has (primary key:
  the payment), so a rerun never posts a payment twice.

The bulk tables (lines, items, remittances) have no foreign keys and only the indexes their
reads need: at a million rows a day, per-row trigger and index work would dominate the run.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reconcile_statements",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("statement_id", sa.String(length=140), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("credit_total", sa.BigInteger(), nullable=False),
        sa.Column("debit_total", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_statements")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_reconcile_statements_content_hash")),
    )
    op.create_index(
        "ix_reconcile_statements_business_date",
        "reconcile_statements",
        ["business_date", "source"],
    )
    op.create_table(
        "reconcile_statement_lines",
        sa.Column("statement_id", sa.BigInteger(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("reversal", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("bank_reference", sa.String(length=140), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=140), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("payment_reference", sa.String(length=40), nullable=True),
        sa.Column("batch_reference", sa.String(length=140), nullable=True),
        sa.Column("batch_count", sa.Integer(), nullable=True),
        sa.Column("batch_total", sa.BigInteger(), nullable=True),
        sa.Column("transactions", JSON, nullable=True),
        sa.PrimaryKeyConstraint(
            "statement_id", "line_number", name=op.f("pk_reconcile_statement_lines")
        ),
    )
    op.create_table(
        "reconcile_settlement_lines",
        sa.Column("statement_id", sa.BigInteger(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_txn_id", sa.String(length=100), nullable=False),
        sa.Column("payment_reference", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "statement_id", "line_number", name=op.f("pk_reconcile_settlement_lines")
        ),
    )
    op.create_table(
        "reconcile_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("statements", JSON, nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("totals", JSON, nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("matched_gateway_total", sa.BigInteger(), nullable=False),
        sa.Column("matched_treasury_total", sa.BigInteger(), nullable=False),
        sa.Column("posted_payments", sa.Integer(), nullable=False),
        sa.Column("posted_entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_runs")),
    )
    op.create_index("ix_reconcile_runs_business_date", "reconcile_runs", ["business_date", "id"])
    op.create_table(
        "reconcile_items",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gateway_amount", sa.BigInteger(), nullable=True),
        sa.Column("treasury_amount", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=140), nullable=True),
        sa.Column("batch_reference", sa.String(length=140), nullable=True),
        sa.Column("agency", sa.String(length=32), nullable=True),
        sa.Column("treasury_code", sa.String(length=20), nullable=True),
        sa.Column("chapter", sa.String(length=3), nullable=True),
        sa.Column("sub_item", sa.String(length=4), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("booking_date", sa.Date(), nullable=True),
        sa.Column("days_late", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'resolved', 'closed')", name=op.f("ck_reconcile_items_state")
        ),
        sa.CheckConstraint(
            "(state = 'resolved') = (resolved_by IS NOT NULL AND resolved_at IS NOT NULL)",
            name=op.f("ck_reconcile_items_resolution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_items")),
    )
    op.create_index("ix_reconcile_items_run_id_id", "reconcile_items", ["run_id", "id"])
    op.create_table(
        "reconcile_item_history",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconcile_runs.id"],
            name=op.f("fk_reconcile_item_history_run_id_reconcile_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_item_history")),
    )
    op.create_index(
        "ix_reconcile_item_history_business_date",
        "reconcile_item_history",
        ["business_date", "item_key"],
    )
    op.create_table(
        "reconcile_remittances",
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_reconcile_remittances")),
    )


def downgrade() -> None:
    op.drop_table("reconcile_remittances")
    op.drop_index("ix_reconcile_item_history_business_date", table_name="reconcile_item_history")
    op.drop_table("reconcile_item_history")
    op.drop_index("ix_reconcile_items_run_id_id", table_name="reconcile_items")
    op.drop_table("reconcile_items")
    op.drop_index("ix_reconcile_runs_business_date", table_name="reconcile_runs")
    op.drop_table("reconcile_runs")
    op.drop_table("reconcile_settlement_lines")
    op.drop_table("reconcile_statement_lines")
    op.drop_index("ix_reconcile_statements_business_date", table_name="reconcile_statements")
    op.drop_table("reconcile_statements")
