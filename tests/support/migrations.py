"""A migration's upgrade tried on rows written as the schema stood before it."""

from __future__ import annotations

from collections.abc import Sequence

from alembic import command
from sqlalchemy import Engine, text

from coalwatch.storage import migrate


def upgrade_from(engine: Engine, revision: str, statements: Sequence[str]) -> None:
    """Down to ``revision``, these statements run there, and up to the head again."""
    command.downgrade(migrate.alembic_config(engine), revision)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    migrate.upgrade(engine)
