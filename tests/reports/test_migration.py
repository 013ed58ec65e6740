"""The migrations build exactly the tables of the models (no drift), on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from coalwatch.storage import migrate
from coalwatch.storage.base import Base
from coalwatch.storage.partitioning import include_object_for
from coalwatch.storage.session import make_engine
from coalwatch.users.models import Role


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"include_object": include_object_for(connection.dialect.name)},
            )
            assert context.get_current_revision() == migrate.head_revision(engine)
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_duty_operator_role_may_sign(sqlite_url: str) -> None:
    """0005 gives the built-in duty operator report:sign (PostgreSQL's test tables are
    emptied between tests, so the migrated rows are seen on SQLite)."""
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            permissions = connection.scalar(
                select(Role.permissions).where(Role.code == "duty_operator")
            )
    finally:
        engine.dispose()
    assert permissions is not None and "report:sign" in permissions.split()
