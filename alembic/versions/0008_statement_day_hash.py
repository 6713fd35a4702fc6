"""statements once per content per source and day: unique (source, business_date, content_hash)

0006 made ``content_hash`` unique on its own, so the same bytes imported for another day (two
days' header-only settlement reports or treasury CSVs are byte for byte the same) returned
the first day's statement: the second day had none. A repeat is now the same bytes for the
same source and business day.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_reconcile_statements_content_hash"
NEW = "uq_reconcile_statements_source_business_date_content_hash"
COLUMNS = ["source", "business_date", "content_hash"]


def upgrade() -> None:
    # Batch mode: SQLite cannot drop a constraint in place, so the table is copied.
    with op.batch_alter_table("reconcile_statements") as batch_op:
        batch_op.drop_constraint(OLD, type_="unique")
        batch_op.create_index(NEW, COLUMNS, unique=True)


def downgrade() -> None:
    # Fails (unique violation) once the same bytes were imported for two days or sources:
    # the older schema cannot hold them; delete the extra rows first.
    with op.batch_alter_table("reconcile_statements") as batch_op:
        batch_op.drop_index(NEW)
        batch_op.create_unique_constraint(OLD, ["content_hash"])
