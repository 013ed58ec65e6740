"""alarms and faults: the structured detail (params) the texts are composed from

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-06 07:00:00.000000

An alarm's detail and a system fault's phenomenon were stored as one finished text,
partly Chinese and partly English. ``params`` keeps what the text says as JSON (a
detail code and its figures, dates and codes), so that a page or an export writes it
in its reader's language; ``detail`` / ``phenomenon`` keep a Chinese text for the API,
the notifications and the alarms raised before. Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alarms") as table:
        table.add_column(sa.Column("params", sa.Text(), nullable=True))
    with op.batch_alter_table("faults") as table:
        table.add_column(sa.Column("params", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faults") as table:
        table.drop_column("params")
    with op.batch_alter_table("alarms") as table:
        table.drop_column("params")
