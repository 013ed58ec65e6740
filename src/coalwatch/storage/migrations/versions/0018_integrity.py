"""integrity: signed batches kept, audit checkpoints, verification progress, alarms
of the center itself

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 07:00:00.000000

Every accepted record now points to the signed batch that brought it, so that
``coalwatch verify`` can re-prove it. Records accepted before this revision have no
batch: the progress row remembers up to which record id that is expected.
Written by hand; the names follow the metadata's naming convention.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signed_batches",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_signed_batches_mine_id_mines")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_signed_batches_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_batches")),
    )
    op.create_index("ix_signed_batches_station_id", "signed_batches", ["station_id", "id"])
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("batch_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("head_id", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    # the center's own alarms (data_tamper of its audit log) belong to no mine
    with op.batch_alter_table("alarms") as batch:
        batch.alter_column("mine_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "verification_progress",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_batch_id", sa.BigInteger(), nullable=False),
        sa.Column("last_record_id", sa.BigInteger(), nullable=False),
        sa.Column("unsigned_before", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_verification_progress")),
    )
    op.execute(
        "INSERT INTO verification_progress (name, last_batch_id, last_record_id, unsigned_before)"
        " SELECT 'records', 0, 0, COALESCE(MAX(id), 0) FROM records"
    )


def downgrade() -> None:
    op.drop_table("verification_progress")
    op.execute("DELETE FROM alarms WHERE mine_id IS NULL")
    with op.batch_alter_table("alarms") as batch:
        batch.alter_column("mine_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("batch_id")
    op.drop_index("ix_signed_batches_station_id", table_name="signed_batches")
    op.drop_table("signed_batches")
