"""A database to back up and an empty one to restore into, on each backend.

SQLite: a migrated file, and a new file elsewhere. PostgreSQL: a migrated schema of its
own, and a new schema of the same database (a new database would cost a checkpoint on
every drop); the backup's schema name must be free there for pg_restore, so the test
loses the source before restoring, as in a real recovery.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine


@dataclass
class Pair:
    source: str
    target: str
    #: the source database is lost (dropped, deleted)
    lose_source: Callable[[], None]


def _schema_url(url: str, schema: str) -> str:
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@pytest.fixture
def pair(database_url: str, tmp_path: Path) -> Iterator[Pair]:
    if make_url(database_url).get_backend_name() == "sqlite":
        source = Path(make_url(database_url).database or "")

        def delete() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{source}{suffix}").unlink(missing_ok=True)

        yield Pair(database_url, f"sqlite:///{tmp_path / 'restored' / 'coalwatch.db'}", delete)
        return
    name = f"cw_backup_{secrets.token_hex(4)}"
    admin = make_engine(make_url(database_url).set(query={}).render_as_string(hide_password=False))

    def drop(schema: str) -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        engine = make_engine(_schema_url(database_url, name))
        migrate.upgrade(engine)
        engine.dispose()
        yield Pair(
            _schema_url(database_url, name),
            _schema_url(database_url, f"{name}_restored"),
            lambda: drop(name),
        )
    finally:
        drop(name)
        drop(f"{name}_restored")
        admin.dispose()
