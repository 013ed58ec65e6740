"""acceptance of the mines' systems and annual inspections; penalty records

Revision ID: 0030
Revises: 0025
Create Date: 2026-12-06 13:00:00.000000

- ``acceptance_decisions``: the supervising unit's acceptances 验收, resumptions 复产验收,
  annual inspections 年检 and suspensions of a mine's monitoring system. A mine without
  any is under construction 在建. Every mine that exists when this runs was producing
  under the center already: it gets one acceptance recorded by the upgrade (no unit, no
  record, no inspection due), in force from the day before its first day (of creation or
  of production: the UTC date may be a day ahead of the mine's), so nothing it shows
  changes.
- ``penalties`` and ``penalty_evidence``: penalty decisions 处罚决定 of the regulation's
  penalty article, the evidence they link and their execution.
- The built-in role 监管人员 (regulator) gets the two new decisions ``region:acceptance``
  and ``region:penalty`` (as coalwatch.auth.permissions.BUILTIN_ROLES has them).

Written by hand.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_DECISIONS = frozenset({"region:acceptance", "region:penalty"})
ROLES = sa.table(
    "roles",
    sa.column("code", sa.String),
    sa.column("permissions", sa.Text),
    sa.column("builtin", sa.Boolean),
)
MINES = sa.table("mines", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime))
HOURS = sa.table(
    "hourly_production", sa.column("mine_id", sa.Integer), sa.column("local_day", sa.Date)
)
UPGRADE_ACTOR = "系统升级"
UPGRADE_NOTE = "升级前已在运行的矿井，视为已验收"


def _regulator(add: frozenset[str], remove: frozenset[str]) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(ROLES.c.code, ROLES.c.permissions).where(
            ROLES.c.code == "regulator", ROLES.c.builtin.is_(True)
        )
    ).all()
    for code, permissions in rows:
        held = set(permissions.split())
        if "*" in held:
            continue
        after = " ".join(sorted((held | add) - remove))
        bind.execute(ROLES.update().where(ROLES.c.code == code).values(permissions=after))


def upgrade() -> None:
    decisions = op.create_table(
        "acceptance_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("record_no", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("inspection_due", sa.Date(), nullable=True),
        sa.Column("record_file", sa.LargeBinary(), nullable=True),
        sa.Column("record_type", sa.String(length=64), nullable=True),
        sa.Column("record_name", sa.String(length=200), nullable=True),
        sa.Column("record_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_acceptance_decisions_mine_id_mines")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["orgs.id"], name=op.f("fk_acceptance_decisions_unit_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_decisions")),
    )
    op.create_index(
        "ix_acceptance_decisions_mine_at",
        "acceptance_decisions",
        ["mine_id", "decided_at"],
        unique=False,
    )
    op.create_table(
        "penalties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("offence", sa.String(length=40), nullable=False),
        sa.Column("manner", sa.String(length=40), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("enterprise_fine_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_name", sa.String(length=200), nullable=True),
        sa.Column("principal_fine_fen", sa.BigInteger(), nullable=True),
        sa.Column("responsible_name", sa.String(length=200), nullable=True),
        sa.Column("responsible_fine_fen", sa.BigInteger(), nullable=True),
        sa.Column("stop_for_rectification", sa.Boolean(), nullable=False),
        sa.Column("licence_held", sa.Boolean(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("carried_out_on", sa.Date(), nullable=True),
        sa.Column("execution_note", sa.Text(), nullable=True),
        sa.Column("executed_by", sa.String(length=200), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["mine_id"], ["mines.id"], name=op.f("fk_penalties_mine_id_mines")),
        sa.ForeignKeyConstraint(["unit_id"], ["orgs.id"], name=op.f("fk_penalties_unit_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_penalties")),
        sa.UniqueConstraint("number", name=op.f("uq_penalties_number")),
    )
    op.create_index(
        "ix_penalties_mine_decided", "penalties", ["mine_id", "decided_on"], unique=False
    )
    op.create_table(
        "penalty_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("penalty_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["penalty_id"], ["penalties.id"], name=op.f("fk_penalty_evidence_penalty_id_penalties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_penalty_evidence")),
    )
    op.create_index(
        op.f("ix_penalty_evidence_penalty_id"), "penalty_evidence", ["penalty_id"], unique=False
    )
    # the mines that exist were producing under the center: accepted from their first
    # day (of creation or of production, whichever came first), so that no figure of
    # theirs is marked
    bind = op.get_bind()
    now = datetime.now(UTC)
    first_days = dict(
        bind.execute(
            sa.select(HOURS.c.mine_id, sa.func.min(HOURS.c.local_day)).group_by(HOURS.c.mine_id)
        ).all()
    )
    rows = []
    for mine_id, created_at in bind.execute(sa.select(MINES.c.id, MINES.c.created_at)).all():
        if isinstance(created_at, str):  # SQLite without the column's type: ISO text
            created_at = datetime.fromisoformat(created_at)
        at = created_at if created_at is not None else now
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        first = first_days.get(mine_id)
        if isinstance(first, str):
            first = date.fromisoformat(first)
        day = min(at.date(), first) if first is not None else at.date()
        rows.append(
            {
                "mine_id": mine_id,
                "kind": "acceptance",
                "passed": True,
                "state": "accepted",
                "decided_on": day - timedelta(days=1),
                "decided_at": now,
                "decided_by": UPGRADE_ACTOR,
                "note": UPGRADE_NOTE,
            }
        )
    if rows:
        op.bulk_insert(decisions, rows)
    _regulator(NEW_DECISIONS, frozenset())


def downgrade() -> None:
    _regulator(frozenset(), NEW_DECISIONS)
    op.drop_index(op.f("ix_penalty_evidence_penalty_id"), table_name="penalty_evidence")
    op.drop_table("penalty_evidence")
    op.drop_index("ix_penalties_mine_decided", table_name="penalties")
    op.drop_table("penalties")
    op.drop_index("ix_acceptance_decisions_mine_at", table_name="acceptance_decisions")
    op.drop_table("acceptance_decisions")
