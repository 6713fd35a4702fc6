"""rate limits: per-key request counts per minute, shared by the web processes

``rate_limit_windows`` holds each key's count for a UTC minute; web processes lease blocks
of it (payments/domain/rate_limits.py). ``api_keys.rate_limit_per_minute`` is a key's own
limit (NULL: the gateway's ``PAYMENTS_RATE_LIMIT_PER_MINUTE``).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.create_table(
        "rate_limit_windows",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_rate_limit_windows_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("api_key_id", "window_start", name=op.f("pk_rate_limit_windows")),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_windows")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("rate_limit_per_minute")
