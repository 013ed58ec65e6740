"""records: an index by point, type and time

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 09:45:00.000000

The alarm engine reads a point's latest conveyor records on every batch; with only
(point_id, ts) a point without conveyor records made that read walk all of the
point's records, a cost that grew with its history. Written by hand.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_records_point_type_ts", "records", ["point_id", "type", "ts"])


def downgrade() -> None:
    op.drop_index("ix_records_point_type_ts", table_name="records")
