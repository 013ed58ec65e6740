"""Alembic, driven from code: the migrations ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from coalwatch.errors import DatabaseNotReady
from coalwatch.storage.session import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


def current_engine(url: str) -> Engine:
    """An engine on a database at the current schema, else an error saying what to run."""
    engine = make_engine(url)
    if not is_up_to_date(engine):
        where = engine.url.render_as_string(hide_password=True)
        engine.dispose()
        raise DatabaseNotReady(
            f"the database at {where} is not at the current schema: "
            "run `coalwatch db upgrade` first"
        )
    return engine
