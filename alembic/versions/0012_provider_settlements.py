"""provider settlements in the ledger: which payments' settlement is booked, and remittances
that wait for it

- ``reconcile_settlements``: one row per payment whose provider settlement (from the
  provider's report) was booked: Dr collection bank, Dr provider fees / Cr provider clearing.
- ``reconcile_remittances.entry_id`` may be NULL: the treasury confirmed the payment, but its
  provider settlement is not booked yet, so its remittance (Dr budget payable / Cr collection
  bank) waits; money leaves the collection account only after it arrived there.
- ``reconcile_runs``: how many settlements a run booked, and how many confirmed payments'
  remittances wait for their settlement.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconcile_settlements",
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_reconcile_settlements")),
    )
    with op.batch_alter_table("reconcile_remittances") as batch:
        batch.alter_column("entry_id", existing_type=sa.BigInteger(), nullable=True)
    with op.batch_alter_table("reconcile_runs") as batch:
        batch.add_column(
            sa.Column("settled_payments", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("awaiting_settlement", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("reconcile_runs") as batch:
        batch.drop_column("awaiting_settlement")
        batch.drop_column("settled_payments")
    op.execute("DELETE FROM reconcile_remittances WHERE entry_id IS NULL")
    with op.batch_alter_table("reconcile_remittances") as batch:
        batch.alter_column("entry_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_table("reconcile_settlements")
