"""refunds raised to people, and settled by hand with four eyes

- ``refunds.escalated_at``: when a refund the provider would not answer for certain (still
  ``unknown`` or ``pending`` at the end of the status-query ladder) was raised to people.
- ``refunds.resolution_*``: a finance officer's proposed settlement of such a refund
  (``succeeded`` with the provider's refund reference, or ``failed``), waiting for a second
  officer (the use case refuses the proposer's own confirmation).
- ``ux_refunds_provider_refund_id``: one provider refund number belongs to one refund, so an
  answer about a sibling refund can never be booked twice.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
HAS_REFERENCE = sa.text("provider_refund_id IS NOT NULL")


def upgrade() -> None:
    # add_column, not batch_alter_table: on SQLite a batch rebuild would drop the refunds
    # table's guard triggers (0005, 0011).
    op.add_column("refunds", sa.Column("escalated_at", TS, nullable=True))
    op.add_column("refunds", sa.Column("resolution_outcome", sa.String(16), nullable=True))
    op.add_column("refunds", sa.Column("resolution_reference", sa.String(64), nullable=True))
    op.add_column("refunds", sa.Column("resolution_note", sa.Text(), nullable=True))
    op.add_column("refunds", sa.Column("resolution_by", sa.String(64), nullable=True))
    op.add_column("refunds", sa.Column("resolution_at", TS, nullable=True))
    op.create_index(
        "ux_refunds_provider_refund_id",
        "refunds",
        ["provider", "provider_refund_id"],
        unique=True,
        postgresql_where=HAS_REFERENCE,
        sqlite_where=HAS_REFERENCE,
    )


def downgrade() -> None:
    op.drop_index("ux_refunds_provider_refund_id", table_name="refunds")
    for column in (
        "resolution_at",
        "resolution_by",
        "resolution_note",
        "resolution_reference",
        "resolution_outcome",
        "escalated_at",
    ):
        op.drop_column("refunds", column)
