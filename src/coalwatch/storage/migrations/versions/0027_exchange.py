"""exchange: collection files and their delivery ledger, virtual stations, files read back

Revision ID: 0027
Revises: 0021
Create Date: 2026-12-06 09:50:00.000000

- ``exchange_files``: every collection file written, and when the server took it.
- ``exchange_marks``: per mine and file kind, when the writer last wrote (and what).
- ``exchange_virtual_stations``: stations that account another vendor's files.
- ``exchange_readings``: the last reading taken from the files, per point.
- ``exchange_imports``: the files read back, once each.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTCDateTime = sa.DateTime(timezone=True)
SecretText = sa.Text()


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


def downgrade() -> None:
    for table in (
        "exchange_imports",
        "exchange_readings",
        "exchange_virtual_stations",
        "exchange_marks",
        "exchange_files",
    ):
        op.drop_table(table)
