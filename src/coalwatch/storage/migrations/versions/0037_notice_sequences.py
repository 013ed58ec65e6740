"""the series of document numbers: one counter per issuing unit, kind and year

Revision ID: 0037
Revises: 0029
Create Date: 2026-12-06 16:30:00.000000

- ``notice_sequences``: the last sequence given in a series of document numbers 文号
  (``prefix`` "C1-ZG-2026-"). A series' row is made on its first use from the numbers
  already given, so existing notices need no data here.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_sequences",
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_notice_sequences")),
    )


def downgrade() -> None:
    op.drop_table("notice_sequences")
