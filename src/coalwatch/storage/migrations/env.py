"""Alembic environment: the engine comes from coalwatch (see storage/migrate.py)."""

from __future__ import annotations

from alembic import context

from coalwatch.storage import models  # noqa: F401  (registers the tables)
from coalwatch.storage.base import Base
from coalwatch.storage.partitioning import include_object_for

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object_for(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
