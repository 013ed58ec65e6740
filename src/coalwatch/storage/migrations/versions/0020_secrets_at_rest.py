"""secrets at rest: cameras' passwords and notification channels' settings encrypted

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-06 07:00:00.000000

The values stored in plain text are encrypted with the key derived from the center's
secret key (storage/crypto.py): run ``coalwatch db upgrade`` with the center's
``COALWATCH_SECRET_KEY`` (or its ``var/secret_key``). A camera's password column
becomes TEXT: its ciphertext is longer than the 200 characters it had. Downgrading
writes the plain text back. Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from coalwatch.storage.crypto import decrypt, encrypt, is_encrypted

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column) of every secret kept at rest
SECRETS = (("cameras", "password"), ("notification_channels", "settings"))


def _rewrite(table: str, column: str, encrypting: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")
    ).all()
    for row_id, value in rows:
        if is_encrypted(value) == encrypting:
            continue
        connection.execute(
            sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
            {"value": encrypt(value) if encrypting else decrypt(value), "id": row_id},
        )


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.alter_column(
            "password", existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=True
        )
    for table, column in SECRETS:
        _rewrite(table, column, encrypting=True)


def downgrade() -> None:
    for table, column in SECRETS:
        _rewrite(table, column, encrypting=False)
    with op.batch_alter_table("cameras") as batch:
        batch.alter_column(
            "password", existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=True
        )
