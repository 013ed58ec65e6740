"""suspect increments; a point's maximum flow and last flow rate

Revision ID: 0025
Revises: 0021
Create Date: 2026-12-06 10:00:00.000000

- ``suspect_increments``: totalizer increments held out of production until a
  supervising user confirms or rejects them.
- ``points.max_flow_kgph``: the most the belt carries (kg/h), for the plausibility of
  increments; ``points.last_flow_kgph``: the flow reported with the last reading.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("points") as batch:
        batch.add_column(sa.Column("max_flow_kgph", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_flow_kgph", sa.BigInteger(), nullable=True))
    op.create_table(
        "suspect_increments",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", _UTC, nullable=False),
        sa.Column("old_kg", sa.BigInteger(), nullable=False),
        sa.Column("new_kg", sa.BigInteger(), nullable=False),
        sa.Column("previous_ts", _UTC, nullable=False),
        sa.Column("increment_kg", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("limit_kg", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_suspect_increments_mine_id_mines")
        ),
        sa.ForeignKeyConstraint(
            ["point_id"], ["points.id"], name=op.f("fk_suspect_increments_point_id_points")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_suspect_increments_station_id_stations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspect_increments")),
        sa.UniqueConstraint(
            "mine_id",
            "station_id",
            "seq",
            name=op.f("uq_suspect_increments_mine_id_station_id_seq"),
        ),
    )
    op.create_index(
        "ix_suspect_increments_mine_status", "suspect_increments", ["mine_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_suspect_increments_mine_status", table_name="suspect_increments")
    op.drop_table("suspect_increments")
    with op.batch_alter_table("points") as batch:
        batch.drop_column("last_flow_kgph")
        batch.drop_column("max_flow_kgph")
