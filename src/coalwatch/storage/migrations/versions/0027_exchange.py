"""exchange: collection files and their delivery ledger, virtual stations, files read back

Revision ID: 0027
Revises: 0021
Create Date: 2026-12-06 09:50:00.000000

- ``exchange_files``: every collection file written, and when the server took it.
- ``exchange_marks``: per mine and file kind, when the writer last wrote (and what).
- ``exchange_virtual_stations``: stations that account another vendor's files.
- ``exchange_readings``: the last reading taken from the files, per point.
- ``exchange_imports``: the files read back, once each.
- the read-only views of version 1 for platforms that read databases:
  ``exchange_v1_points``, ``exchange_v1_realtime``, ``exchange_v1_hourly``,
  ``exchange_v1_daily``, ``exchange_v1_statistics``, ``exchange_v1_alarms`` (frozen: a
  change of columns is a new version, ``exchange_v2_*``, in a migration of its own).

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTCDateTime = sa.DateTime(timezone=True)
SecretText = sa.Text()


def _bucket(dialect: str) -> str:
    """The start of the 5-minute interval of ``r.ts``."""
    if dialect == "postgresql":
        return "to_timestamp(floor(extract(epoch FROM r.ts) / 300) * 300)"
    return "datetime((CAST(strftime('%s', r.ts) AS INTEGER) / 300) * 300, 'unixepoch')"


def _views(dialect: str) -> dict[str, str]:
    raw = "(p.measured_kg + p.manual_kg) * (10000 - COALESCE(c.hundredths, 0))"
    return {
        "exchange_v1_points": """
            SELECT m.code AS mine_code, m.name AS mine_name, p.code AS point_code,
                   p.name AS point_name, p.kind AS point_kind,
                   p.rollover_kg, p.min_trip_kg, p.created_at
            FROM points p JOIN mines m ON m.id = p.mine_id""",
        "exchange_v1_realtime": """
            SELECT m.code AS mine_code, p.code AS point_code, p.kind AS point_kind,
                   p.last_total_ts AS total_ts, p.last_total_kg AS total_kg,
                   (SELECT r.ts FROM records r WHERE r.point_id = p.id AND r.type = 'trip'
                    ORDER BY r.ts DESC, r.id DESC LIMIT 1) AS trip_ts,
                   (SELECT r.value_kg FROM records r WHERE r.point_id = p.id
                    AND r.type = 'trip' ORDER BY r.ts DESC, r.id DESC LIMIT 1) AS trip_kg,
                   (SELECT r.running FROM records r WHERE r.point_id = p.id
                    AND r.type = 'conveyor' ORDER BY r.ts DESC, r.id DESC LIMIT 1)
                       AS conveyor_running
            FROM points p JOIN mines m ON m.id = p.mine_id""",
        "exchange_v1_hourly": f"""
            SELECT m.code AS mine_code, pt.code AS point_code, p.hour_start, p.local_day,
                   p.measured_kg, p.manual_kg, p.measured_kg + p.manual_kg AS gross_kg,
                   COALESCE(c.hundredths, 0) AS coefficient_hundredths,
                   {raw} AS raw_units
            FROM hourly_production p
            JOIN mines m ON m.id = p.mine_id
            JOIN points pt ON pt.id = p.point_id
            LEFT JOIN coefficient_spans c ON c.mine_id = p.mine_id
                 AND c.day_from <= p.local_day AND c.day_to >= p.local_day""",
        "exchange_v1_daily": f"""
            SELECT m.code AS mine_code, pt.code AS point_code, p.local_day,
                   p.measured_kg, p.manual_kg, p.measured_kg + p.manual_kg AS gross_kg,
                   COALESCE(c.hundredths, 0) AS coefficient_hundredths,
                   {raw} AS raw_units
            FROM daily_production p
            JOIN mines m ON m.id = p.mine_id
            JOIN points pt ON pt.id = p.point_id
            LEFT JOIN coefficient_spans c ON c.mine_id = p.mine_id
                 AND c.day_from <= p.local_day AND c.day_to >= p.local_day""",
        "exchange_v1_statistics": f"""
            SELECT m.code AS mine_code, pt.code AS point_code,
                   {_bucket(dialect)} AS window_start,
                   COALESCE(SUM(r.increment_kg), 0) AS gross_kg,
                   MAX(r.flow_kgph) AS max_flow_kgph, COUNT(*) AS samples
            FROM records r
            JOIN mines m ON m.id = r.mine_id
            JOIN points pt ON pt.id = r.point_id
            WHERE r.type IN ('totalizer', 'trip')
            GROUP BY m.code, pt.code, {_bucket(dialect)}""",
        "exchange_v1_alarms": """
            SELECT a.id AS alarm_id, m.code AS mine_code, pt.code AS point_code,
                   a.type AS alarm_type, a.severity, a.start, a."end" AS "end",
                   a.value, a.threshold, a.state,
                   a.acknowledged_at, a.handled_at
            FROM alarms a
            JOIN mines m ON m.id = a.mine_id
            LEFT JOIN points pt ON pt.id = a.point_id""",
    }


def upgrade() -> None:
    op.create_table(
        "exchange_files",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("mine_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("written_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("server_ack", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(["mine_id"], ["mines.id"], name="fk_exchange_files_mine_id_mines"),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_files"),
        sa.UniqueConstraint("name", name="uq_exchange_files_name"),
    )
    op.create_index("ix_exchange_files_mine_id", "exchange_files", ["mine_id"])
    op.create_index("ix_exchange_files_pending", "exchange_files", ["sent_at", "id"])
    op.create_table(
        "exchange_marks",
        sa.Column("mine_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("written_at", UTCDateTime, nullable=False),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["mine_id"], ["mines.id"], name="fk_exchange_marks_mine_id_mines"),
        sa.PrimaryKeyConstraint("mine_id", "kind", name="pk_exchange_marks"),
    )
    op.create_table(
        "exchange_virtual_stations",
        sa.Column("station_id", sa.Integer, nullable=False),
        sa.Column("mine_id", sa.Integer, nullable=False),
        sa.Column("private_key", SecretText, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_exchange_virtual_stations_station_id_stations",
        ),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name="fk_exchange_virtual_stations_mine_id_mines"
        ),
        sa.PrimaryKeyConstraint("station_id", name="pk_exchange_virtual_stations"),
    )
    op.create_index(
        "ix_exchange_virtual_stations_mine_id", "exchange_virtual_stations", ["mine_id"]
    )
    op.create_table(
        "exchange_readings",
        sa.Column("station_id", sa.Integer, nullable=False),
        sa.Column("point_code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ts", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name="fk_exchange_readings_station_id_stations"
        ),
        sa.PrimaryKeyConstraint("station_id", "point_code", "kind", name="pk_exchange_readings"),
    )
    op.create_table(
        "exchange_imports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mine_code", sa.String(64), nullable=True),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_imports"),
        sa.UniqueConstraint("name", name="uq_exchange_imports_name"),
    )
    for name, query in _views(op.get_bind().dialect.name).items():
        op.execute(f"CREATE VIEW {name} AS {query}")


def downgrade() -> None:
    for name in _views(op.get_bind().dialect.name):
        op.execute(f"DROP VIEW {name}")
    for table in (
        "exchange_imports",
        "exchange_readings",
        "exchange_virtual_stations",
        "exchange_marks",
        "exchange_files",
    ):
        op.drop_table(table)
