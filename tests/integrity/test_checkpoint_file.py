"""The file of signed audit checkpoints is bound to its database: centers on two
databases that share one var directory (and so one center key) each compare their own
checkpoints only, and a log cut in one of them is still named from its file."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url

from coalwatch.audit import checkpoints
from coalwatch.audit.models import AuditEntry
from coalwatch.config import Settings
from coalwatch.integrity.service import IntegrityJob, Outcome, verify_all
from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world


@pytest.fixture
def other_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second migrated database beside ``database_url``: another SQLite file, or
    another schema of the same PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = tmp_path / "other" / "coalwatch.db"
        path.parent.mkdir()
        shutil.copy(url.database or "", path)
        yield f"sqlite:///{path}"
        return
    schema = f"cw_other_{secrets.token_hex(4)}"
    admin = make_engine(url.set(query={}).render_as_string(hide_password=False))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        other = url.update_query_dict({"options": f"-csearch_path={schema}"})
        rendered = other.render_as_string(hide_password=False)
        engine = make_engine(rendered)
        migrate.upgrade(engine)
        engine.dispose()
        yield rendered
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _settings(w: World, var_dir: Path) -> Settings:
    return Settings(database_url=w.url, var_dir=var_dir, secret_key="k")


def _checkpoint(w: World, var_dir: Path) -> None:
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    assert IntegrityJob(_settings(w, var_dir))(sessions, w.clock()) is not None


def _verify(w: World, var_dir: Path) -> Outcome:
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    return verify_all(sessions, _settings(w, var_dir), w.clock(), full=True)


def _tampers(w: World) -> list[dict[str, object]]:
    return [a for a in w.alarms() if a["type"] == "data_tamper"]


def _cut_log_and_checkpoints(w: World) -> int:
    """The newest audit entry and every checkpoint of the table removed (what the file
    beside the database still names); returns the entry that was the head."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        newest = int(session.scalar(select(func.max(AuditEntry.id))) or 0)
        session.execute(delete(AuditEntry).where(AuditEntry.id == newest))
        session.execute(text("DELETE FROM audit_checkpoints"))
    engine.dispose()
    return newest


def test_two_databases_sharing_a_var_dir_each_check_their_own_checkpoints(
    database_url: str, other_url: str, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    with world(database_url) as one, world(other_url) as two:
        # chains of different lengths and contents: one's checkpoint does not hold in two
        one.ok(one.post("/orgs", {"code": "C1", "name": "县一", "kind": "county"}))
        for n in (2, 3, 4):
            two.ok(two.post("/orgs", {"code": f"C{n}", "name": f"县{n}", "kind": "county"}))
        _checkpoint(one, var_dir)
        _checkpoint(two, var_dir)
        for w in (one, two):
            outcome = _verify(w, var_dir)
            assert outcome.audit is None, outcome.audit
            assert _tampers(w) == []

        head = _cut_log_and_checkpoints(one)
        broken = _verify(one, var_dir).audit
        assert broken is not None and "entries were removed" in broken.reason
        assert f"up to entry {head}" in broken.reason
        assert [a["mine"] for a in _tampers(one)] == [None]
        assert _verify(two, var_dir).audit is None and _tampers(two) == []


def test_the_file_of_another_database_does_not_stand_in_for_a_removed_one(
    database_url: str, other_url: str, tmp_path: Path
) -> None:
    """Deleting a database's file loses nothing the table does not hold, and a file of
    another database copied in its place is compared, and found not to hold."""
    var_dir = tmp_path / "var"
    with world(database_url) as one, world(other_url) as two:
        one.ok(one.post("/orgs", {"code": "C1", "name": "县一", "kind": "county"}))
        for n in (2, 3, 4):
            two.ok(two.post("/orgs", {"code": f"C{n}", "name": f"县{n}", "kind": "county"}))
        _checkpoint(one, var_dir)
        _checkpoint(two, var_dir)
        own, others = _file_of(one, var_dir), _file_of(two, var_dir)
        assert own != others and own.exists() and others.exists()
        own.unlink()
        assert _verify(one, var_dir).audit is None  # the table still holds its checkpoint
        shutil.copy(others, own)
        broken = _verify(one, var_dir).audit
        assert broken is not None


def _file_of(w: World, var_dir: Path) -> Path:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        path = checkpoints.log_file(var_dir, session)
    engine.dispose()
    return path


def test_the_single_file_of_an_earlier_version_is_taken_over_by_its_database(
    database_url: str, other_url: str, tmp_path: Path
) -> None:
    """After an upgrade, the one file the earlier version wrote is taken over by the
    database whose chain it signed (at its first verification), and names a log cut
    since; another database leaves it alone."""
    var_dir = tmp_path / "var"
    with world(database_url) as one, world(other_url) as two:
        one.ok(one.post("/orgs", {"code": "C1", "name": "县一", "kind": "county"}))
        two.ok(two.post("/orgs", {"code": "C2", "name": "县二", "kind": "county"}))
        _checkpoint(one, var_dir)
        legacy = var_dir / checkpoints.LEGACY_LOG_FILE
        _file_of(one, var_dir).rename(legacy)  # as the earlier version left it

        assert _verify(two, var_dir).audit is None and _tampers(two) == []
        assert legacy.exists()  # not two's: left where it was
        assert _verify(one, var_dir).audit is None
        assert not legacy.exists() and _file_of(one, var_dir).exists()

        _cut_log_and_checkpoints(one)
        broken = _verify(one, var_dir).audit
        assert broken is not None and "entries were removed" in broken.reason
