"""A mine with samples worked out by hand, a writer, and a real FTP server on loopback.

The mine M1 (Asia/Shanghai; the world's clock at 2026-03-15 11:31 local) has:

- belt B1: totalizer 100.000 t at 11:10 (the first reading: no production), 100.500 t at
  11:20 with 640 t/h (+500 kg), 101.250 t at 11:30 with 600.5 t/h (+750 kg): 1,250 kg;
- skip K1: trips of 8.250 t at 11:15 and 7.750 t at 11:25: 16,000 kg;
- the enclosure of B1 opened at 11:28 without a permit: an ``enclosure_open`` alarm;
- a deduction coefficient of 4.5 % for 2026.

So the hour from 11:00 (and the day, month and year) has 1,250 + 16,000 = 17,250 kg
gross, and raw 17.250 × (1 − 0.045) = 16.47375 t, shown 16.474 t.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.world import World, totalizer, trip, world

LOCAL = timedelta(hours=8)
#: 11:31:00 local
NOW = datetime(2026, 3, 15, 3, 31, tzinfo=UTC)


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 15, hour, minute, second, tzinfo=UTC) - LOCAL


def flowing(record: dict[str, Any], flow: str) -> dict[str, Any]:
    return dict(record, flow_tph=flow)


def populate(w: World) -> None:
    w.mine("M1", org="C1", belts=("B1",), trips=("K1",))
    w.ok(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-12-31"},
        )
    )
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, at(11, 10), "B1", "100.000"),
                trip(2, at(11, 15), "K1", "8.250"),
                flowing(totalizer(3, at(11, 20), "B1", "100.500"), "640"),
                trip(4, at(11, 25), "K1", "7.750"),
                {
                    "seq": 5,
                    "ts": at(11, 28),
                    "type": "event",
                    "point": "B1",
                    "event": "enclosure_open",
                },
                flowing(totalizer(6, at(11, 30), "B1", "101.250"), "600.5"),
            ],
        )
    )
    w.stations["S1"].next_seq = 7


@pytest.fixture
def mine(database_url: str) -> Iterator[World]:
    with world(database_url, now=NOW) as w:
        populate(w)
        yield w


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FtpServer:
    """pyftpdlib on loopback, started and stopped by the test (an outage is a stop)."""

    root: Path
    port: int
    user: str = "province"
    password: str = "s3cret"
    _thread: threading.Thread | None = None
    _stop: threading.Event | None = None

    @property
    def url(self) -> str:
        return f"ftp://{self.user}:{self.password}@127.0.0.1:{self.port}/incoming"

    def start(self) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        (self.root / "incoming").mkdir(parents=True, exist_ok=True)
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.user, self.password, str(self.root), perm="elradfmw")
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
        handler.passive_ports = None
        server = FTPServer(("127.0.0.1", self.port), handler)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                server.serve_forever(timeout=0.05, blocking=False)
            server.close_all()

        self._stop = stop
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Down: the port refuses connections until ``start`` again."""
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
        self._stop = self._thread = None

    def received(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((self.root / "incoming").iterdir())}


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    server = FtpServer(tmp_path / "ftp", free_port())
    yield server
    server.stop()
