"""points: the state of the point's conveyor as its last conveyor record left it

Revision ID: 0040_conveyor_state
Revises: 0039_totals
Create Date: 2026-12-07 11:40:00.000000

- ``points.last_conveyor_ts`` / ``last_conveyor_seq`` / ``last_conveyor_running``: the
  point's conveyor record latest by (ts, seq), kept by ingest as it keeps the totalizer
  state; filled here from the records already stored. A batch's metering rule reads the
  conveyor's records only when the conveyor changed state within the interval it checks.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_conveyor_state"
down_revision: str | None = "0039_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the point's latest conveyor record (by ts, then seq), read through the records' index
#: on (point_id, type, ts)
_LATEST = """
    SELECT {column} FROM records r
    WHERE r.point_id = points.id AND r.type = 'conveyor'
    ORDER BY r.ts DESC, r.seq DESC LIMIT 1
"""


def upgrade() -> None:
    op.add_column("points", sa.Column("last_conveyor_ts", sa.DateTime(timezone=True)))
    op.add_column("points", sa.Column("last_conveyor_seq", sa.BigInteger()))
    op.add_column("points", sa.Column("last_conveyor_running", sa.Boolean()))
    op.execute(
        f"""
        UPDATE points SET
            last_conveyor_ts = ({_LATEST.format(column="r.ts")}),
            last_conveyor_seq = ({_LATEST.format(column="r.seq")}),
            last_conveyor_running = ({_LATEST.format(column="r.running")})
        WHERE EXISTS (SELECT 1 FROM records r WHERE r.point_id = points.id AND r.type = 'conveyor')
        """
    )


def downgrade() -> None:
    # in place (SQLite 3.35 drops a column itself): a copy of the table, as a batch
    # operation makes, would break the exchange views that read it
    for name in ("last_conveyor_running", "last_conveyor_seq", "last_conveyor_ts"):
        op.drop_column("points", name)
