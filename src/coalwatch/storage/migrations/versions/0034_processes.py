"""several center processes on one database: shared rate limits, the ingest horizon

Revision ID: 0034
Revises: 0032
Create Date: 2026-12-06 13:30:00.000000

- ``rate_buckets``: the rate-limited API tokens' buckets, shared by the center
  processes on one PostgreSQL (on SQLite they stay in memory; the table is unused).
- ``ingest_horizons``: per center process that lags behind its station uploads, the
  arrival of its oldest upload still waiting; the silence rules judge up to there.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("token_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("per_min", sa.Integer(), nullable=False),
        sa.Column("credit", sa.Float(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_rate_buckets")),
    )
    op.create_table(
        "ingest_horizons",
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("beat_at", _UTC, nullable=False),
        sa.Column("waiting_since", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_ingest_horizons")),
    )


def downgrade() -> None:
    op.drop_table("ingest_horizons")
    op.drop_table("rate_buckets")
