"""Shared fixtures: databases built by the migrations, on SQLite and PostgreSQL.

Every case that needs the PostgreSQL server (parametrised with the ``postgresql`` backend,
through ``database_url`` or a fixture of its own, or using ``postgres_schema``) carries
the ``postgres`` marker, set here at collection, so ``-m "not postgres"`` deselects
exactly those. When they are selected and the server is not reachable they fail with
what was wrong; they are never skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# hundreds of users are created and signed in: hashes that cost nothing (auth/passwords.py);
# set before coalwatch is imported, and inherited by the centers the tests start
os.environ.setdefault("COALWATCH_PASSWORD_HASH_COST", "minimal")

from sqlalchemy import text
from sqlalchemy.engine import make_url

from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine

PG_SERVER = os.environ.get(
    "COALWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]

#: storage tests run on SQLite and on PostgreSQL; a case (or a module, as ``pytestmark``)
#: whose result cannot depend on the database (a page, a form, a command's text, the
#: wording of a refusal, a format) runs on SQLite only: ``database_url`` is one backend
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _postgres_reachable() -> str | None:
    engine = make_engine(PG_SERVER, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


#: the fixtures that need the PostgreSQL server at PG_SERVER
PG_FIXTURES = frozenset({"postgres_schema"})


def needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(
        isinstance(value, str) and value == "postgresql" for value in callspec.params.values()
    ):
        return True
    return bool(PG_FIXTURES & set(getattr(item, "fixturenames", ())))


#: where the long cases live: a browser, real servers and processes, whole-center walks;
#: the longest single cases first of all
LONGEST = (
    "tests/federation/test_three_levels_e2e.py",
    "tests/web/test_click_everything.py",
    "tests/web/test_hostile_values.py",
)
LONG = (
    "tests/web/",
    "tests/e2e/",
    "tests/reliability/",
    "tests/demo/",
    "tests/ops/",
    "tests/backups/test_month_files.py",
    "tests/exchange/test_mqtt.py",
    "tests/cli/test_demo_console.py",
    "tests/station/test_rtu.py",
    "tests/station/test_one_instant.py",
)


def weight(nodeid: str) -> int:
    """0 for the longest cases, 1 for the long ones, 2 for the rest (by the case's file)."""
    path = nodeid.replace("\\", "/")
    if path.startswith(LONGEST):
        return 0
    if path.startswith(LONG):
        return 1
    return 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
    # the long cases first, the longest first of all (``LongCasesDealt`` deals them out)
    items.sort(key=lambda item: weight(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScheduling

    class LongCasesDealt(LoadScheduling):
        """xdist's load scheduling, except at the start: its first chunks are runs of
        consecutive cases, so one worker gets every long case (they come first) and
        finishes alone long after the others. Here the long cases are dealt one by one
        round half the workers (more of them at once, each with its servers, browsers and
        processes, slow each other down beyond their time-outs on two cores), the other
        half start with a run of the short ones each, and the rest go to whichever worker
        is free, as xdist does."""

        def schedule(self) -> None:
            if self.collection is not None or not self._check_nodes_have_same_collection():
                super().schedule()
                return
            collection = next(iter(self.node2collection.values()))
            nodes = list(self.nodes)
            long = [i for i, nodeid in enumerate(collection) if weight(nodeid) < 2]
            short = [i for i, nodeid in enumerate(collection) if weight(nodeid) == 2]
            dealers = nodes[: max(1, len(nodes) // 2)]
            dealt = {node: long[k :: len(dealers)] for k, node in enumerate(dealers)}
            # every worker has work from the start (one with none would never be asked)
            others = [node for node in nodes if not dealt.get(node)]
            run = max(2, len(short) // max(1, len(others)) // 4)
            for k, node in enumerate(others):
                dealt[node] = short[k * run : (k + 1) * run]
            if not all(dealt.get(node) for node in nodes):
                super().schedule()  # too few cases to deal
                return
            self.collection = collection
            if self.maxschedchunk is None:
                self.maxschedchunk = len(collection)
            self.pending[:] = short[len(others) * run :]
            for node, indexes in dealt.items():
                self.node2pending[node].extend(indexes)
                node.send_runtest_some(indexes)
            if not self.pending:
                for node in nodes:
                    node.shutdown()

    return LongCasesDealt(config, log)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A schema of its own in the test database, migrated once for the session."""
    problem = _postgres_reachable()
    if problem:
        pytest.fail(
            f"PostgreSQL at {PG_SERVER} is not reachable: {problem}. Start it (trust auth, "
            'database "test"), point COALWATCH_TEST_POSTGRES at one, or deselect these '
            'cases with -m "not postgres"',
            pytrace=False,
        )
    schema = f"cw_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(schema)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _schema_url(schema: str) -> str:
    # commits that do not wait for the disk: the cases kill centers and stations, never the
    # database server, so nothing a case can see changes, and four workers stop queueing on
    # one fsync
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = make_url(PG_SERVER).update_query_dict({"options": options})
    return url.render_as_string(hide_password=False)


#: empties every table of the schema and restarts its sequences, in one round trip: a
#: DELETE of the few rows a case leaves costs little, where TRUNCATE of eighty tables
#: makes new files for each (1.6 s a case under load, against 0.05 s)
_EMPTY_SCHEMA = """
DO $$
DECLARE item record;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR item IN SELECT tablename FROM pg_tables
        WHERE schemaname = current_schema() AND tablename <> 'alembic_version' LOOP
        EXECUTE format('DELETE FROM %I', item.tablename);
    END LOOP;
    FOR item IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
        PERFORM setval(quote_ident(item.sequencename), 1, false);
    END LOOP;
END $$
"""


def _truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(_EMPTY_SCHEMA))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "coalwatch.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_schema")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A freshly migrated SQLite database, for tests that need one backend only."""
    path = tmp_path / "coalwatch.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"
