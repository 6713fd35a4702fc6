"""attempts: the page the payer was sent to, and attempts left for review

- ``payment_attempts.redirect_url``: the provider's page (or our QR page) an attempt sent the
  payer to; choosing the same provider again while the attempt is open goes back there
  instead of starting another attempt.
- ``payment_attempts.left_for_review_at``: when an attempt still open (``pending`` or
  ``unknown``) reached the end of its status-query ladder; nobody asks the provider about it
  again, and the API lists it for people. ``ix_payment_attempts_left_for_review`` finds the
  payments that have one.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEFT_FOR_REVIEW = sa.text("left_for_review_at IS NOT NULL")


def upgrade() -> None:
    # add_column, not batch_alter_table: nullable columns need no table rebuild on SQLite.
    op.add_column("payment_attempts", sa.Column("redirect_url", sa.Text(), nullable=True))
    op.add_column(
        "payment_attempts",
        sa.Column("left_for_review_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_payment_attempts_left_for_review",
        "payment_attempts",
        ["payment_id"],
        postgresql_where=LEFT_FOR_REVIEW,
        sqlite_where=LEFT_FOR_REVIEW,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_attempts_left_for_review", table_name="payment_attempts")
    with op.batch_alter_table("payment_attempts") as batch_op:
        batch_op.drop_column("left_for_review_at")
        batch_op.drop_column("redirect_url")
