"""The database restarted during ingest: the center answers 503 while it is down, the
station keeps its records and retries, and afterwards every record is there exactly once.

The test runs its own PostgreSQL cluster (initdb + pg_ctl into a temporary directory,
a free loopback port), never the shared one: restarting that would break the others.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from coalwatch.station.outbox import Outbox
from coalwatch.station.uploader import Backoff, Uploader
from coalwatch.storage import migrate
from coalwatch.storage.models import Record, Station
from coalwatch.storage.session import make_engine
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.support.world import World, world

pytestmark = pytest.mark.postgres  # a cluster of its own, from the PostgreSQL binaries

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
KEY = generate_private_key()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bin_dir() -> Path | None:
    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    if not found:
        return None
    return Path(max(found, key=lambda p: int(Path(p).parts[4]))).parent


@dataclass
class PrivatePostgres:
    bin: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip()} {tail}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=30"
        )
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                 "-o", options, "-w", "-t", "30", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30",
                 "stop")  # fmt: skip


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own, on a free loopback port; removed afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.fail(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql)",
            pytrace=False,
        )
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "running as root and there is no postgres user to run a cluster as "
                "(apt-get install postgresql creates it)",
                pytrace=False,
            )
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail(
                "running as root without runuser to run a cluster as postgres "
                "(apt-get install util-linux)",
                pytrace=False,
            )
        as_user = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="coalwatch-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    pg = PrivatePostgres(bin_dir, root, _free_port(), as_user)
    try:
        pg.run(str(bin_dir / "initdb"), "-D", str(pg.data), "-A", "trust", "-U", "postgres",
               "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        pg.start()
        try:
            engine = make_engine(pg.url)
            try:
                migrate.upgrade(engine)
            finally:
                engine.dispose()
            yield pg
        finally:
            pg.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Transport:
    """Posts to the in-process center and notes every answer's status and error code."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.statuses: list[int] = []
        self.errors: list[str] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = self.w.client.post(urlsplit(url).path, content=body, headers=headers)
        self.statuses.append(response.status_code)
        if response.status_code != 200:
            self.errors.append(response.json()["error"]["code"])
        return response.status_code, response.content

    def close(self) -> None:
        pass


def test_the_database_restarted_during_ingest_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with private_postgres() as pg, world(pg.url, now=T0) as w:
        w.mine("M1", belts=("B1",), station=None)
        w.ok(w.post("/mines/M1/stations", {"code": "S1", "public_key": public_key_b64(KEY)}))
        outbox = Outbox(tmp_path / "outbox.db")
        transport = Transport(w)
        uploader = Uploader(
            outbox,
            "S1",
            KEY,
            ["http://127.0.0.1:9"],
            batch_size=10,
            transport=transport,
            backoff=Backoff(0.05, 0.2),
            clock=w.clock,
        )
        readings = 90
        # a reading a second before T0, each 500 + i kg above the last
        totals = [1_000_000]
        for i in range(1, readings):
            totals.append(totals[-1] + 500 + i)

        async def main() -> None:
            stop, wake = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(uploader.run(stop, wake, idle_s=0.05))
            for i, total in enumerate(totals):
                if i == 30:
                    # stopped mid-run, without warning; the reading appended next makes
                    # the station meet the dead database (it may have been idle till now)
                    await asyncio.to_thread(pg.stop, "immediate")
                if i == 31:
                    for _ in range(1000):  # until the station has met the dead database
                        if 503 in transport.statuses:
                            break
                        await asyncio.sleep(0.01)
                    await asyncio.to_thread(pg.start)
                ts = T0 - timedelta(seconds=readings - i)
                outbox.append(
                    [
                        {
                            "ts": ts.isoformat(),
                            "type": "totalizer",
                            "point": "B1",
                            "total_t": Decimal(total).scaleb(-3),
                        }
                    ]
                )
                wake.set()
                await asyncio.sleep(0.01)
            for _ in range(2000):
                if outbox.count() == 0:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await task

        try:
            asyncio.run(main())
        finally:
            uploader.close()
            outbox.close()
        # while the database was down the center said 503 (database_unavailable), never 500
        assert 503 in transport.statuses
        assert set(transport.statuses) <= {200, 503}, transport.statuses
        assert set(transport.errors) == {"database_unavailable"}
        engine = make_engine(pg.url)
        try:
            with engine.connect() as db:
                stored, distinct, low, high = db.execute(
                    select(
                        func.count(),
                        func.count(func.distinct(Record.seq)),
                        func.min(Record.seq),
                        func.max(Record.seq),
                    )
                ).one()
                max_seq = db.scalar(select(Station.max_seq))
        finally:
            engine.dispose()
        assert (stored, distinct, low, high, max_seq) == (readings, readings, 1, readings, readings)
        day = w.ok(w.get("/mines/M1/summary", at=T0.isoformat()))["day"]
        # the first reading is the baseline: sum of (500 + i) for i = 1..89
        # = 500 × 89 + 89 × 90 / 2 = 44,500 + 4,005 = 48,505 kg
        assert Decimal(str(day["gross_t"])) == Decimal("48.505")
