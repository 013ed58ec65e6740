"""who decides what: the built-in roles; the licence of a capacity

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 09:50:00.000000

- The built-in roles (``roles``, seeded by 0003) follow "Who decides what": the
  decisions on a mine's yardsticks (``production:approve`` and the ``region:`` decision
  permissions) leave every mine role (总工程师, 矿长 ...) and are given to 监管人员
  (regulator). Other permissions, as an administrator may have edited them, stay.
- ``shutdowns``: the supervising unit's acknowledgement 停产确认 (who, when).
- ``mine_requests``: a mine's requests for what a supervising unit decides (a capacity
  change with its licence document, a month's plan, a maintenance permit), pending until
  decided.
- ``capacities``: the licence document that decided a capacity (number, date) and who
  recorded the decision.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the decisions (coalwatch.auth.permissions.DECISIONS), as they are now
DECISIONS = frozenset(
    {
        "production:approve",
        "region:capacity",
        "region:reduction",
        "region:coefficient",
        "region:plan",
        "region:permit",
        "region:shutdown",
        "region:limits",
        "region:confirm",
    }
)
#: the built-in roles of a mine's staff and its onlookers: they hold no decision
MINE_ROLES = (
    "duty_operator",
    "dispatcher",
    "duty_mine_manager",
    "chief_engineer",
    "mine_manager",
    "maintainer",
    "third_party",
)
ROLES = sa.table(
    "roles",
    sa.column("code", sa.String),
    sa.column("permissions", sa.Text),
    sa.column("builtin", sa.Boolean),
)


def _update(change: dict[str, tuple[frozenset[str], frozenset[str]]]) -> None:
    """Per role code: (permissions to add, permissions to remove)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(ROLES.c.code, ROLES.c.permissions).where(
            ROLES.c.code.in_(list(change)), ROLES.c.builtin.is_(True)
        )
    ).all()
    for code, permissions in rows:
        add, remove = change[code]
        held = set(permissions.split())
        if "*" in held:
            continue
        after = " ".join(sorted((held | add) - remove))
        bind.execute(ROLES.update().where(ROLES.c.code == code).values(permissions=after))


def upgrade() -> None:
    op.create_table(
        "mine_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_by", sa.String(length=200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_mine_requests_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mine_requests")),
    )
    op.create_index(
        "ix_mine_requests_mine_status", "mine_requests", ["mine_id", "status"], unique=False
    )
    op.add_column("capacities", sa.Column("licence_no", sa.String(length=200), nullable=True))
    op.add_column("capacities", sa.Column("licence_date", sa.Date(), nullable=True))
    op.add_column("capacities", sa.Column("decided_by", sa.String(length=200), nullable=True))
    op.add_column("shutdowns", sa.Column("acknowledged_by", sa.String(length=200), nullable=True))
    op.add_column(
        "shutdowns", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True)
    )
    nothing: frozenset[str] = frozenset()
    _update(
        {
            **{code: (nothing, DECISIONS) for code in MINE_ROLES},
            "regulator": (DECISIONS, nothing),
        }
    )


def downgrade() -> None:
    nothing: frozenset[str] = frozenset()
    _update(
        {
            "chief_engineer": (frozenset({"production:approve"}), nothing),
            "mine_manager": (frozenset({"production:approve"}), nothing),
            "regulator": (nothing, DECISIONS - {"production:approve"}),
        }
    )
    op.drop_index("ix_mine_requests_mine_status", table_name="mine_requests")
    op.drop_table("mine_requests")
    with op.batch_alter_table("shutdowns") as batch:
        batch.drop_column("acknowledged_at")
        batch.drop_column("acknowledged_by")
    with op.batch_alter_table("capacities") as batch:
        batch.drop_column("decided_by")
        batch.drop_column("licence_date")
        batch.drop_column("licence_no")
