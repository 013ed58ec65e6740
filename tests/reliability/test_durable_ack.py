"""A batch is acknowledged only once its commit is durable: the center killed between
the commit and the answer still holds the batch when it starts again, and SQLite
commits with ``synchronous=FULL`` (with NORMAL a power loss may take back the last
commits, after the station deleted them from its outbox)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from coalwatch.storage.models import Record
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import sign
from tests.support.world import totalizer, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_sqlite_commits_are_synchronous_full(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
    engine.dispose()


def test_a_center_killed_after_the_commit_keeps_the_batch(sqlite_url: str, tmp_path: Path) -> None:
    with world(sqlite_url, now=T0) as w:
        w.mine("M1")
        key = w.stations["S1"].key
    now = datetime.now(UTC).replace(microsecond=0)
    records = [totalizer(seq, now - timedelta(minutes=3 - seq), "B1", seq) for seq in (1, 2, 3)]
    body = encode_batch("S1", now, records)
    port = _free_port()
    env = dict(
        os.environ,
        COALWATCH_DATABASE_URL=sqlite_url,
        COALWATCH_JOBS="false",
        COALWATCH_SECRET_KEY="test-session-key",
        COALWATCH_VAR_DIR=str(tmp_path / "var"),
        COALWATCH_TEST_EXIT_AFTER_COMMIT="1",
    )
    coalwatch = Path(sys.executable).parent / "coalwatch"
    server = subprocess.Popen(
        [str(coalwatch), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):  # until it listens (bounded)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        answered = True
        try:
            httpx.post(
                f"http://127.0.0.1:{port}/api/v1/stations/S1/batches",
                content=body,
                headers={"X-Signature": sign(key, body), "Content-Type": "application/json"},
                timeout=30,
            )
        except httpx.HTTPError:
            answered = False
        assert server.wait(timeout=30) == 70  # it died where the hook put it
        assert not answered  # the station got no answer: it keeps its records
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    engine = make_engine(sqlite_url)
    with transaction(make_sessionmaker(engine)) as session:
        held = session.scalar(select(func.count()).select_from(Record))
    engine.dispose()
    assert held == 3
