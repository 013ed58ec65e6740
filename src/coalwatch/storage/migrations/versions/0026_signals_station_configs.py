"""sound-and-light warning choices; station configurations issued by the center

Revision ID: 0026
Revises: 0021
Create Date: 2026-12-06 10:00:00.000000

- ``signal_choices``: the alarm types that sound the beacons at the outlets 声光预警, as
  a supervising unit chose them for an org's subtree or for one mine.
- ``station_configs``: every configuration the center issued to a station (the exact
  signed document, its fingerprint, who issued it and when).
- ``station_config_running``: the fingerprint of the configuration a station last said
  it runs.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signal_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("mine_id", sa.Integer(), nullable=True),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_signal_choices_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_signal_choices_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_choices")),
        sa.UniqueConstraint("org_id", name=op.f("uq_signal_choices_org_id")),
        sa.UniqueConstraint("mine_id", name=op.f("uq_signal_choices_mine_id")),
    )
    op.create_table(
        "station_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_station_configs_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_station_configs_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_configs")),
        sa.UniqueConstraint(
            "station_id", "version", name=op.f("uq_station_configs_station_id_version")
        ),
    )
    op.create_table(
        "station_config_running",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_config_running_station_id_stations"),
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_config_running")),
    )


def downgrade() -> None:
    op.drop_table("station_config_running")
    op.drop_table("station_configs")
    op.drop_table("signal_choices")
