"""Fixtures of the federation tests: a downstream center (SQLite, forwarding as "MC")
and the upstream's database (each backend)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from coalwatch.federation.queue import enable_forwarding
from tests.support.world import World, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


@pytest.fixture
def upstream_url(database_url: str) -> str:
    """The receiving end runs on each backend."""
    return database_url


@pytest.fixture
def down_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "downstream.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def down(down_url: str) -> Iterator[World]:
    with world(down_url, T0) as w:
        enable_forwarding(w.client.app.state.coalwatch.sessions, "MC")  # type: ignore[attr-defined]
        yield w


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app on a loopback port (its lifespan is run by the caller's TestClient)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
