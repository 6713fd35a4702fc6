"""settlement batches: the provider's remittance batch on each settlement line

A provider remits to the treasury in settlement batches and its settlement report says which
transactions are in which batch; the reconciliation gives each payment its batch from there, so
that a treasury line carrying only a batch reference, count and total can be matched.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reconcile_settlement_lines") as batch_op:
        batch_op.add_column(sa.Column("batch_reference", sa.String(length=140), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reconcile_settlement_lines") as batch_op:
        batch_op.drop_column("batch_reference")
