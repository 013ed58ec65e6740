"""Secrets stay secret: no token in a URL (access logs), database files and backups
readable by their owner only, cameras' passwords and channels' settings encrypted at
rest."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from coalwatch.backups import service as backups
from coalwatch.storage import crypto, migrate
from coalwatch.storage.session import make_engine
from tests.support.world import World, world

DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=3f9a0c5e1b7d2a4c"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_event_stream_takes_no_token_in_its_url(sqlite_url: str) -> None:
    with world(sqlite_url) as w:
        refused = w.client.get("/api/v1/events", params={"token": w.token, "limit": 1})
        assert refused.status_code == 401


def test_the_event_stream_opens_with_a_short_lived_ticket(sqlite_url: str) -> None:
    with world(sqlite_url) as w:
        answer = w.ok(w.client.post("/api/v1/events/tickets", headers=w.headers()))
        ticket = answer["ticket"]
        assert w.token not in ticket and w.token.removeprefix("cw_") not in ticket
        with w.client.stream("GET", "/api/v1/events", params={"ticket": ticket}) as stream:
            assert stream.status_code == 200
            assert next(stream.iter_lines()) == ": coalwatch event stream"
        forged = ticket[:-1] + ("0" if ticket[-1] != "0" else "1")
        assert w.client.get("/api/v1/events", params={"ticket": forged}).status_code == 401
        w.clock.advance(seconds=31)  # a ticket lasts 30 s
        assert w.client.get("/api/v1/events", params={"ticket": ticket}).status_code == 401
        anonymous = w.client.post("/api/v1/events/tickets")
        assert anonymous.status_code == 401
        # scripts keep the header
        with w.client.stream("GET", "/api/v1/events", headers=w.headers()) as stream:
            assert stream.status_code == 200


def test_database_files_and_backups_are_their_owners_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # what a service usually runs with: files 0644 by default
    try:
        url = f"sqlite:///{tmp_path / 'var' / 'coalwatch.db'}"
        engine = make_engine(url)  # creates the file
        migrate.upgrade(engine)
        engine.dispose()
        with world(url) as w:
            w.mine("M1")  # writes: the WAL and shared-memory files exist
            database = tmp_path / "var" / "coalwatch.db"
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                assert path.exists(), path
                assert _mode(path) == 0o600, (path, oct(_mode(path)))
            assert _mode(tmp_path / "var") == 0o700
            policy = backups.Policy(tmp_path / "backups", timedelta(days=91), timedelta(days=730))
            made = backups.create(url, policy, "manual", "op", w.clock())
        backup = tmp_path / "backups" / made.file_name
        manifests = list((tmp_path / "backups").glob("*.json"))
        assert manifests
        for path in (backup, *manifests):
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
    finally:
        os.umask(old)


def _raw(url: str, query: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        values = [str(v) for v in connection.execute(text(query)).scalars()]
    engine.dispose()
    return values


def test_channel_settings_are_encrypted_at_rest(database_url: str) -> None:
    with world(database_url) as w:
        _channel(w)
        [stored] = _raw(database_url, "SELECT settings FROM notification_channels")
        assert "access_token" not in stored and "3f9a0c5e1b7d2a4c" not in stored
        assert stored.startswith("enc:v1:")


def _channel(w: World) -> None:
    w.ok(
        w.post(
            "/notification-channels",
            {"name": "钉钉", "kind": "dingtalk", "settings": {"url": DINGTALK}},
        )
    )


def test_the_migration_encrypts_the_secrets_stored_before(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0014")
    plain = json.dumps({"url": DINGTALK})
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO notification_channels (name, kind, settings, enabled, created_at) "
                "VALUES ('钉钉', 'dingtalk', :settings, 1, '2026-03-15 04:00:00')"
            ),
            {"settings": plain},
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        stored = connection.scalar(text("SELECT settings FROM notification_channels"))
    assert stored.startswith("enc:v1:") and "access_token" not in stored
    assert crypto.decrypt(stored) == plain
    engine.dispose()
