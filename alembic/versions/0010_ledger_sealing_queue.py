"""ledger sealing queue: the ids of entries not yet in the hash chain

Sealing used to find its next batch with an anti-join of the whole journal against the
chain, so every seal got slower as the journal grew. ``ledger_unsealed`` holds the id of each
entry from the transaction that posts it until the transaction that seals it, so a seal reads
its batch in O(batch). An id watermark would not do: entries commit out of id order.

The queue is not part of the immutable record (the chain is), so unlike entries, postings and
links its rows may be deleted: 0002's guard triggers are per table and do not cover it.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_unsealed",
        sa.Column("entry_id", BIG_ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_unsealed_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_unsealed")),
    )
    # Every entry committed so far that no seal covers yet: the one anti-join, done once.
    op.execute(
        "INSERT INTO ledger_unsealed (entry_id) "
        "SELECT e.id FROM ledger_entries e "
        "WHERE NOT EXISTS (SELECT 1 FROM ledger_chain c WHERE c.entry_id = e.id)"
    )


def downgrade() -> None:
    op.drop_table("ledger_unsealed")
