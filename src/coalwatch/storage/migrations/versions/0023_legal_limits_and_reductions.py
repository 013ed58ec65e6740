"""legal limits set by the supervising units; fault reports and pending reductions

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-06 10:00:00.000000

- ``legal_limits``: a legal limit 法定时限 shortened at an org for its subtree.
- ``faults.reported_via`` / ``report_note`` / ``report_confirmed_by`` / ``report_confirmed_at``:
  how a fault was reported (through the system, or by telephone for the supervising
  unit to confirm). Faults reported before this revision are taken as reported through
  the system.
- ``capacity_reductions.status`` (pending / confirmed / waived) and the decision: the
  reductions made before this revision were applied already and stay confirmed.

Written by hand; the names follow the metadata's naming convention.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legal_limits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_legal_limits_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_limits")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_legal_limits_org_id_name")),
    )
    op.create_index(op.f("ix_legal_limits_org_id"), "legal_limits", ["org_id"])
    with op.batch_alter_table("faults") as batch:
        batch.add_column(sa.Column("reported_via", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("report_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("report_confirmed_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("report_confirmed_at", _UTC, nullable=True))
    op.execute("UPDATE faults SET reported_via = 'system' WHERE reported_at IS NOT NULL")
    with op.batch_alter_table("capacity_reductions") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="confirmed")
        )
        batch.add_column(sa.Column("decided_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("decided_at", _UTC, nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("capacity_reductions") as batch:
        batch.alter_column("status", existing_type=sa.String(length=16), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("capacity_reductions") as batch:
        batch.drop_column("decision_reason")
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
        batch.drop_column("status")
    with op.batch_alter_table("faults") as batch:
        batch.drop_column("report_confirmed_at")
        batch.drop_column("report_confirmed_by")
        batch.drop_column("report_note")
        batch.drop_column("reported_via")
    op.drop_index(op.f("ix_legal_limits_org_id"), table_name="legal_limits")
    op.drop_table("legal_limits")
