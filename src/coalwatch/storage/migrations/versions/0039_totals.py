"""running totals of each mine's months and years, filled from the daily rollups

Revision ID: 0039_totals
Revises: 0038
Create Date: 2026-12-06 19:30:00.000000

- ``mine_period_totals``: per mine, period ("month" | "year") and its first local day,
  the measured and manual kg and the raw units (each day's gross × (10,000 − the
  hundredths of the coefficient in force that day)) of the daily rollups. Kept by the
  same statements that add to the rollups from now on; filled here from the rollups
  as they stand.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039_totals"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: dialect -> period -> the SQL of a local day's period start
_STARTS = {
    "postgresql": {
        "month": "CAST(date_trunc('month', CAST(d.local_day AS timestamp)) AS date)",
        "year": "CAST(date_trunc('year', CAST(d.local_day AS timestamp)) AS date)",
    },
    "sqlite": {
        "month": "date(d.local_day, 'start of month')",
        "year": "date(d.local_day, 'start of year')",
    },
}

_FILL = """
INSERT INTO mine_period_totals (mine_id, period, start_day, measured_kg, manual_kg, raw_units)
SELECT d.mine_id, '{period}', {start}, sum(d.measured_kg), sum(d.manual_kg),
       sum((d.measured_kg + d.manual_kg) * (10000 - coalesce(s.hundredths, 0)))
FROM daily_production d
LEFT JOIN coefficient_spans s
    ON s.mine_id = d.mine_id AND s.day_from <= d.local_day AND s.day_to >= d.local_day
GROUP BY d.mine_id, {start}
"""


def upgrade() -> None:
    op.create_table(
        "mine_period_totals",
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("measured_kg", sa.BigInteger(), nullable=False),
        sa.Column("manual_kg", sa.BigInteger(), nullable=False),
        sa.Column("raw_units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_mine_period_totals_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint(
            "mine_id", "period", "start_day", name=op.f("pk_mine_period_totals")
        ),
    )
    starts = _STARTS[op.get_bind().dialect.name]
    for period, start in starts.items():
        op.execute(_FILL.format(period=period, start=start))


def downgrade() -> None:
    op.drop_table("mine_period_totals")
