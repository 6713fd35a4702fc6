"""reconciliation of refunds with the providers' settlement reports

- ``reconcile_settlement_lines.kind``: ``payment``, ``refund`` or ``full_refund``: a report
  line may be a refund the provider paid out (the layouts' optional kind column); the lines
  imported before are all payments.
- ``reconcile_statements.lists_refunds``: the report's layout lists refunds, so a refund the
  gateway paid and the report omits is missing at the provider; reports imported before did
  not.
- ``reconcile_items.refund_id``: the refund a ``refund_*`` item is about.
- ``reconcile_refund_matches``: one row per refund a report first matched (day and run).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # add_column, not batch_alter_table: a nullable column, or one with a constant default,
    # needs no table rebuild on SQLite (the lines and items tables hold millions of rows).
    op.add_column(
        "reconcile_settlement_lines",
        sa.Column("kind", sa.String(16), nullable=False, server_default=sa.text("'payment'")),
    )
    op.add_column(
        "reconcile_statements",
        sa.Column("lists_refunds", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("reconcile_items", sa.Column("refund_id", sa.String(40), nullable=True))
    op.create_table(
        "reconcile_refund_matches",
        sa.Column("refund_id", sa.String(40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_reconcile_refund_matches")),
    )


def downgrade() -> None:
    op.drop_table("reconcile_refund_matches")
    with op.batch_alter_table("reconcile_items") as batch:
        batch.drop_column("refund_id")
    with op.batch_alter_table("reconcile_statements") as batch:
        batch.drop_column("lists_refunds")
    # The refund lines go with their kind: the run's payment side never read them.
    op.execute("DELETE FROM reconcile_settlement_lines WHERE kind <> 'payment'")
    with op.batch_alter_table("reconcile_settlement_lines") as batch:
        batch.drop_column("kind")
