"""rectification notices and instructions; who issues and who answers them

Revision ID: 0029
Revises: 0034
Create Date: 2026-12-06 13:20:00.000000

- ``notices``: a rectification notice 整改通知书 or an instruction 指令 of a supervising
  unit (issued here, or received from the upstream center: ``origin``).
- ``notice_recipients``: the document at each mine it went to: acknowledgement, answer,
  verification.
- ``notice_links``: the alarms, faults, overproduction and findings it cites.
- ``notice_attachments``: the document's files and those of the mines' answers.
- The built-in roles: 监管人员 (regulator) issues notices and instructions
  (``region:notice``, ``region:instruction``); the mine's duty operator, dispatcher, duty
  mine manager, mine manager and dispatch director acknowledge and answer them
  (``production:answer``). Other permissions, as an administrator may have edited them,
  stay.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)
ISSUE = frozenset({"region:notice", "region:instruction"})
ANSWER = frozenset({"production:answer"})
ANSWERING_ROLES = (
    "duty_operator",
    "dispatcher",
    "duty_mine_manager",
    "mine_manager",
    "dispatch_director",
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
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("issuer_org_id", sa.Integer(), nullable=True),
        sa.Column("issuer_unit", sa.String(length=300), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        sa.Column("issued_at", _UTC, nullable=False),
        sa.Column("ack_hours", sa.Integer(), nullable=False),
        sa.Column("deadline", _UTC, nullable=False),
        sa.Column("target_org_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_org_id"], ["orgs.id"], name=op.f("fk_notices_issuer_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["target_org_id"], ["orgs.id"], name=op.f("fk_notices_target_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("number", name=op.f("uq_notices_number")),
    )
    op.create_table(
        "notice_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ack_due", _UTC, nullable=False),
        sa.Column("deadline", _UTC, nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", _UTC, nullable=True),
        sa.Column("passed_to", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", _UTC, nullable=True),
        sa.Column("verified_by", sa.String(length=200), nullable=True),
        sa.Column("verified_at", _UTC, nullable=True),
        sa.Column("verdict_note", sa.Text(), nullable=True),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_notice_recipients_mine_id_mines")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_recipients_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_recipients")),
        sa.UniqueConstraint(
            "notice_id", "mine_id", name=op.f("uq_notice_recipients_notice_id_mine_id")
        ),
    )
    op.create_index(
        "ix_notice_recipients_mine_state", "notice_recipients", ["mine_id", "state"], unique=False
    )
    op.create_index("ix_notice_recipients_state", "notice_recipients", ["state"], unique=False)
    op.create_table(
        "notice_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_links_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_links")),
    )
    op.create_index(op.f("ix_notice_links_notice_id"), "notice_links", ["notice_id"], unique=False)
    op.create_table(
        "notice_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_attachments_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["notice_recipients.id"],
            name=op.f("fk_notice_attachments_recipient_id_notice_recipients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_attachments")),
    )
    op.create_index(
        op.f("ix_notice_attachments_notice_id"), "notice_attachments", ["notice_id"], unique=False
    )
    nothing: frozenset[str] = frozenset()
    _update(
        {
            "regulator": (ISSUE, nothing),
            **{code: (ANSWER, nothing) for code in ANSWERING_ROLES},
        }
    )


def downgrade() -> None:
    nothing: frozenset[str] = frozenset()
    _update(
        {
            "regulator": (nothing, ISSUE),
            **{code: (nothing, ANSWER) for code in ANSWERING_ROLES},
        }
    )
    op.drop_index(op.f("ix_notice_attachments_notice_id"), table_name="notice_attachments")
    op.drop_table("notice_attachments")
    op.drop_index(op.f("ix_notice_links_notice_id"), table_name="notice_links")
    op.drop_table("notice_links")
    op.drop_index("ix_notice_recipients_state", table_name="notice_recipients")
    op.drop_index("ix_notice_recipients_mine_state", table_name="notice_recipients")
    op.drop_table("notice_recipients")
    op.drop_table("notices")
