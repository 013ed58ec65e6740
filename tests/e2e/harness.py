"""End-to-end pieces: a real center (``coalwatch serve``), simulators, a station process.

Everything runs on loopback as separate processes where a crash must be real
(the center, the station), and every process is stopped by whoever started it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from coalwatch.sim import SimSet
from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine
from coalwatch.wire.signing import generate_private_key, private_key_pem, public_key_b64
from tests.ops.certs import write_token

T = TypeVar("T")
#: the BW500 map's totalizer wraps at 2^32 counts of 0.001 t
BW500_ROLLOVER_T = "4294967.296"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.1) -> T:
    """The first truthy result of ``check`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def coalwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "coalwatch.cli", *args]


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal one process we started and wait for it; SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Center:
    """``coalwatch serve`` on ``database_url`` (a SQLite file in ``directory`` unless
    given), configured through its API."""

    def __init__(self, directory: Path, database_url: str | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "COALWATCH_DATABASE_URL": database_url or f"sqlite:///{directory / 'center.db'}",
            "COALWATCH_VAR_DIR": str(directory / "var"),
            "COALWATCH_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "center.log"
        self.token = ""

    def prepare(self, template: Path | None = None) -> None:
        """The database migrated and a write token in it, made in this process (the
        commands ``db upgrade`` and ``token create`` have tests of their own): a copy of
        the migrated SQLite ``template`` when the center has a file of its own, else the
        migrations run here (nothing to do on a migrated schema)."""
        url = self.env["COALWATCH_DATABASE_URL"]
        own_file = self.directory / "center.db"
        if template is not None and url == f"sqlite:///{own_file}":
            shutil.copy(template, own_file)
        else:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
        self.token = write_token(url)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                coalwatch("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._up, 60, "the center to listen")

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the center exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def api(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = f"?{urlencode(params)}" if params else ""
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}{query}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def records(self, mine: str, **filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api(
            "GET", f"/mines/{quote(mine)}/records", limit=10_000, **filters
        )["items"]
        return items

    def production(self, mine: str, point: str) -> Decimal:
        now = datetime.now(UTC)
        items = self.api(
            "GET",
            f"/mines/{quote(mine)}/production",
            period="day",
            point=point,
            **{
                "from": (now - timedelta(days=2)).isoformat(),
                "to": (now + timedelta(days=2)).isoformat(),
            },
        )["items"]
        return sum((Decimal(str(i["gross_t"])) for i in items), Decimal(0))


@dataclass
class Station:
    """A station process polling a SimSet, with its own key, config and outbox."""

    code: str
    mine: str
    directory: Path
    sims: SimSet
    centers: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    poll_interval_s: float = 0.5
    process: subprocess.Popen[bytes] | None = None
    public_key: str = ""

    @property
    def key_file(self) -> Path:
        return self.directory / "station.key"

    @property
    def outbox(self) -> Path:
        return self.directory / "outbox.db"

    @property
    def log(self) -> Path:
        return self.directory / "station.log"

    def make_key(self, with_cli: bool = False) -> str:
        """The station's key; with the CLI as an installer would, or directly (faster)."""
        if with_cli:
            out = subprocess.run(
                coalwatch("station", "keygen", "--key-file", str(self.key_file)),
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            self.public_key = out.strip().splitlines()[-1]
            return self.public_key
        key = generate_private_key()
        self.key_file.write_bytes(private_key_pem(key))
        self.key_file.chmod(0o600)
        self.public_key = public_key_b64(key)
        return self.public_key

    def write_config(self) -> Path:
        text = self.sims.station_config(
            self.code, self.key_file, self.centers, self.outbox, self.poll_interval_s
        )
        extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.settings.items())
        path = self.directory / "station.toml"
        path.write_text(text.replace("[station]\n", "[station]\n" + extra, 1))
        return path

    def start(self) -> None:
        config = self.write_config()
        env = {**os.environ, "COALWATCH_LOG_LEVEL": "INFO"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                coalwatch("station", "run", "--config", str(config)),
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Signal the station and wait; its exit status (None if it was not running)."""
        process, self.process = self.process, None
        if process is None:
            return None
        if sig == signal.SIGKILL:
            process.kill()
            return process.wait(5)
        stop_process(process, sig)
        return process.returncode

    def status(self) -> str:
        """``coalwatch station status`` on this station's config."""
        return subprocess.run(
            coalwatch("station", "status", "--config", str(self.directory / "station.toml")),
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def outbox_count(self) -> int:
        """Records waiting in the outbox, read beside the running station."""
        if not self.outbox.exists():
            return 0
        db = sqlite3.connect(f"file:{self.outbox}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the schema is not there yet
        finally:
            db.close()

    def outbox_seqs(self) -> list[int]:
        db = sqlite3.connect(f"file:{self.outbox}?mode=ro", uri=True, timeout=5)
        try:
            return [row[0] for row in db.execute("SELECT seq FROM records ORDER BY seq")]
        finally:
            db.close()

    def last_seq(self) -> int:
        db = sqlite3.connect(f"file:{self.outbox}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
            return int(row[0]) if row else 0
        finally:
            db.close()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def register(
    center: Center,
    mine: str,
    station: str,
    public_key: str | None,
    belts: list[str],
    trips: list[str],
    org: str = "E2E",
) -> None:
    """The org (once), the mine, its points and (unless None) its station."""
    if org not in {o["code"] for o in center.api("GET", "/orgs")["items"]}:
        center.api("POST", "/orgs", {"code": org, "name": "端到端县", "kind": "county"})
    center.api(
        "POST",
        "/mines",
        {"code": mine, "name": f"{mine} 矿", "org": org, "annual_capacity_t": 1_000_000_000},
    )
    for point in belts:
        body = {"code": point, "name": f"{point} 皮带秤", "kind": "belt"}
        center.api("POST", f"/mines/{mine}/points", {**body, "rollover_t": BW500_ROLLOVER_T})
    for point in trips:
        center.api("POST", f"/mines/{mine}/points", {"code": point, "name": point, "kind": "skip"})
    if public_key is not None:
        register_station(center, mine, station, public_key)


def register_station(center: Center, mine: str, station: str, public_key: str) -> None:
    center.api("POST", f"/mines/{mine}/stations", {"code": station, "public_key": public_key})


def newest(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(records, key=lambda r: (r["ts"], r["seq"])) if records else None
