"""federation: decisions flow down, downstream audit checkpoints kept upstream

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-06 09:45:00.000000

- ``center_decisions``: at an upstream, the yardsticks and limits it decided, queued
  per downstream center that holds the mine, until the center has applied them.
- ``upstream_decisions``: at a downstream, the decisions received and applied (a
  mine's yardstick of a kind listed there is read-only at that center).
- ``received_checkpoints``: at an upstream, the signed audit checkpoints of its
  downstream centers.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "center_decisions",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("mine", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=300), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", _UTC, nullable=False),
        sa.Column("delivered_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["downstream_centers.id"],
            name=op.f("fk_center_decisions_center_id_downstream_centers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_center_decisions")),
    )
    op.create_index(
        "ix_center_decisions_center_id", "center_decisions", ["center_id", "delivered_at"]
    )
    op.create_table(
        "upstream_decisions",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=300), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", _UTC, nullable=False),
        sa.Column("applied_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_upstream_decisions_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_decisions")),
        sa.UniqueConstraint("seq", name=op.f("uq_upstream_decisions_seq")),
    )
    op.create_index("ix_upstream_decisions_mine_kind", "upstream_decisions", ["mine_id", "kind"])
    op.create_table(
        "received_checkpoints",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("head_id", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["downstream_centers.id"],
            name=op.f("fk_received_checkpoints_center_id_downstream_centers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_checkpoints")),
        sa.UniqueConstraint(
            "center_id",
            "head_id",
            "head_hash",
            name=op.f("uq_received_checkpoints_center_id_head_id_head_hash"),
        ),
    )
    op.create_index(
        op.f("ix_received_checkpoints_center_id"), "received_checkpoints", ["center_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_received_checkpoints_center_id"), table_name="received_checkpoints")
    op.drop_table("received_checkpoints")
    op.drop_index("ix_upstream_decisions_mine_kind", table_name="upstream_decisions")
    op.drop_table("upstream_decisions")
    op.drop_index("ix_center_decisions_center_id", table_name="center_decisions")
    op.drop_table("center_decisions")
