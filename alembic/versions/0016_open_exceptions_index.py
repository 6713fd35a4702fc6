"""reconciliation: an index of the open exceptions, for /metrics

``ix_reconcile_items_open`` holds only the items still ``open`` (a few exceptions among a
day's million matched items), so counting the open exceptions of the newest runs, as every
scrape of ``payments_reconciliation_open_exceptions`` does, reads them and nothing else.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_index(
        "ix_reconcile_items_open",
        "reconcile_items",
        ["run_id", "outcome"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_reconcile_items_open", table_name="reconcile_items")
