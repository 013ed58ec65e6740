"""alarms: one open per condition; receipt times; the center's beat and outages

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 06:40:00.000000

- ``uq_alarms_open_condition``: one alarm per (type, mine or the center, point, station, subject)
  while its condition holds (``end`` is null), mirrored alarms aside. Duplicates left
  by concurrent raises are closed first: the oldest of each condition stays open, the
  others end when they started and are closed as duplicates of it.
- ``points.last_sample_received_at``: when the center last received a sample of a
  point, on the center's clock (filled from the records already stored).
- ``records.station_ts``: the station's timestamp of a record it dated in the future
  beyond the skew limit (the record is accounted at its receipt time).
- ``center_beats`` / ``center_outages``: when the jobs last ran, and the times the
  center was away.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = '"end" IS NULL AND origin IS NULL'
CONDITION = (
    "COALESCE(mine_id, 0), type, COALESCE(point_id, 0), COALESCE(station_id, 0), "
    "COALESCE(subject, '')"
)


def upgrade() -> None:
    op.execute(
        f"""
        UPDATE alarms SET "end" = start, state = 'closed',
               result = 'duplicate of alarm ' || CAST((
                   SELECT MIN(k.id) FROM alarms k
                   WHERE k."end" IS NULL AND k.origin IS NULL
                     AND k.mine_id = alarms.mine_id AND k.type = alarms.type
                     AND COALESCE(k.point_id, 0) = COALESCE(alarms.point_id, 0)
                     AND COALESCE(k.station_id, 0) = COALESCE(alarms.station_id, 0)
                     AND COALESCE(k.subject, '') = COALESCE(alarms.subject, '')
               ) AS VARCHAR(20))
        WHERE {OPEN} AND EXISTS (
            SELECT 1 FROM alarms k
            WHERE k."end" IS NULL AND k.origin IS NULL AND k.id < alarms.id
              AND k.mine_id = alarms.mine_id AND k.type = alarms.type
              AND COALESCE(k.point_id, 0) = COALESCE(alarms.point_id, 0)
              AND COALESCE(k.station_id, 0) = COALESCE(alarms.station_id, 0)
              AND COALESCE(k.subject, '') = COALESCE(alarms.subject, '')
        )
        """
    )
    op.execute(f"CREATE UNIQUE INDEX uq_alarms_open_condition ON alarms ({CONDITION}) WHERE {OPEN}")
    op.add_column(
        "points", sa.Column("last_sample_received_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        """
        UPDATE points SET last_sample_received_at = (
            SELECT MAX(r.received_at) FROM records r
            WHERE r.point_id = points.id AND r.type = 'totalizer'
        ) WHERE last_total_ts IS NOT NULL
        """
    )
    op.add_column("records", sa.Column("station_ts", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "center_beats",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_center_beats")),
    )
    op.create_table(
        "center_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noticed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_center_outages")),
    )
    op.create_index(op.f("ix_center_outages_end"), "center_outages", ["end"])


def downgrade() -> None:
    op.drop_index("ix_center_outages_end", table_name="center_outages")
    op.drop_table("center_outages")
    op.drop_table("center_beats")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("station_ts")
    with op.batch_alter_table("points") as batch:
        batch.drop_column("last_sample_received_at")
    op.drop_index("uq_alarms_open_condition", table_name="alarms")
