"""Several center processes, one truth: real ``coalwatch serve`` processes and a
``coalwatch jobs`` process on one PostgreSQL.

One set of processes for the module (they take seconds to start): A is
``serve --no-jobs``, B is ``serve --workers 2 --no-jobs`` (uvicorn's workers), J is
``coalwatch jobs``. A browser-like client on A's event stream sees what B's workers and
J do; a rate limit holds across them; the jobs run in J alone.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from coalwatch.auth.service import create_token
from coalwatch.cli import main
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign
from tests.conftest import _truncate_postgres
from tests.e2e.harness import Center, coalwatch, register, stop_process, wait_for
from tests.ops.certs import write_token

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]


class Serve(Center):
    """``coalwatch serve`` with extra arguments."""

    def __init__(self, directory: Path, url: str, *args: str) -> None:
        directory.mkdir()
        super().__init__(directory, url)
        self.args = args

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                coalwatch("serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args),
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._up, 120, f"the center {self.args} to listen")


@pytest.fixture(scope="module")
def site(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _truncate_postgres(postgres_schema)
    root = tmp_path_factory.mktemp("processes")
    a = Serve(root / "a", postgres_schema, "--no-jobs")
    b = Serve(root / "b", postgres_schema, "--workers", "2", "--no-jobs")
    jobs_dir = root / "jobs"
    jobs = Serve(jobs_dir, postgres_schema)  # its settings; started as `coalwatch jobs`
    for center in (a, b, jobs):
        center.env.update(
            COALWATCH_JOBS_INTERVAL_S="0.5",
            COALWATCH_JOBS_LEASE_S="2",
            COALWATCH_LOG_LEVEL="INFO",
            COALWATCH_SECRET_KEY="processes-test-key",
        )
    token = write_token(postgres_schema)
    a.token = b.token = token
    worker: subprocess.Popen[bytes] | None = None
    pool = ThreadPoolExecutor(2)
    try:
        starting = [pool.submit(c.start) for c in (a, b)]  # at once: they take seconds
        with jobs.log.open("ab") as log:
            worker = subprocess.Popen(
                coalwatch("jobs"), env=jobs.env, stdout=log, stderr=subprocess.STDOUT
            )
        for started in starting:
            started.result()
        key = generate_private_key()
        register(a, "PM", "PS", public_key_b64(key), ["B1"], [], org="PX")
        yield {"a": a, "b": b, "jobs": worker, "jobs_log": jobs.log, "key": key}
    finally:
        pool.shutdown()
        if worker is not None:
            stop_process(worker)
        for center in (a, b):
            center.stop()


class EventStream:
    """A browser's EventSource on a center: a ticket, then the stream, read in a thread."""

    def __init__(self, center: Center) -> None:
        ticket = center.api("POST", "/events/tickets")["ticket"]
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._client = httpx.Client(base_url=center.url, timeout=30)
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(ticket,), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the event stream did not open"

    def _read(self, ticket: str) -> None:
        kind = ""
        try:
            with self._client.stream("GET", "/api/v1/events", params={"ticket": ticket}) as got:
                for line in got.iter_lines():
                    if line.startswith(":"):
                        self._opened.set()
                    elif line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        self.events.put((kind, json.loads(line.removeprefix("data: "))))
        except httpx.HTTPError:
            pass  # closed by the test

    def wait(self, kind: str, timeout: float = 15, **match: Any) -> dict[str, Any]:
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while (left := (deadline - datetime.now(UTC)).total_seconds()) > 0:
            try:
                got_kind, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if got_kind == kind and all(data.get(k) == v for k, v in match.items()):
                return data
        raise AssertionError(f"no {kind} event {match} within {timeout} s")

    def close(self) -> None:
        self._client.close()
        self._thread.join(timeout=5)


def test_a_browser_on_one_process_sees_the_alarm_of_a_batch_ingested_on_another(
    site: dict[str, Any],
) -> None:
    stream = EventStream(site["a"])
    try:
        now = datetime.now(UTC)
        body = encode_batch(
            "PS",
            now,
            [{"seq": 1, "ts": now, "type": "event", "point": "B1", "event": "enclosure_open"}],
        )
        answer = httpx.post(
            f"{site['b'].url}/api/v1/stations/PS/batches",
            content=body,
            headers={"X-Signature": sign(site["key"], body), "Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        alarm = stream.wait("alarm", type="enclosure_open")
        assert alarm["mine"] == "PM" and alarm["transition"] == "raised"
    finally:
        stream.close()


def test_the_jobs_process_runs_the_timed_rules_and_the_web_processes_do_not(
    site: dict[str, Any], postgres_schema: str
) -> None:
    a, b, jobs = site["a"], site["b"], site["jobs"]
    leader = wait_for(
        lambda: (state := a.api("GET", "/jobs/leader"))["last_round_at"] and state,
        20,
        "a round of the jobs",
    )
    assert int(leader["holder"].split(":")[1]) == jobs.pid
    stream = EventStream(a)
    try:
        # a station never heard of, made 10 minutes ago: the timed rule finds it silent
        key = generate_private_key()
        b.api("POST", "/mines/PM/stations", {"code": "PQ", "public_key": public_key_b64(key)})
        engine = make_engine(postgres_schema)
        try:
            with engine.begin() as db:
                db.execute(
                    text("UPDATE stations SET created_at = :t WHERE code = 'PQ'"),
                    {"t": datetime.now(UTC) - timedelta(minutes=10)},
                )
        finally:
            engine.dispose()
        alarm = stream.wait("alarm", type="comm_interruption")
        assert alarm["mine"] == "PM"
    finally:
        stream.close()
    # the web processes never claimed the jobs lease (serve --no-jobs)
    for center in (a, b):
        assert "holding the lease" not in center.log.read_text()
    assert "holding the lease 'jobs'" in site["jobs_log"].read_text()


def test_a_rate_limit_holds_across_processes(site: dict[str, Any], postgres_schema: str) -> None:
    engine = make_engine(postgres_schema)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            token = create_token(
                session,
                "limited",
                None,
                False,
                datetime.now(UTC),
                third_party=True,
                rate_limit_per_min=2,
            )
    finally:
        engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}

    def leader(center: Center) -> httpx.Response:
        return httpx.get(f"{center.url}/api/v1/jobs/leader", headers=headers, timeout=30)

    # two requests a minute: one on A and one on B spend them, the third is refused on both
    assert leader(site["a"]).status_code == 200
    assert leader(site["b"]).status_code == 200
    for center in (site["a"], site["b"]):
        refused = leader(center)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1


def test_several_workers_on_sqlite_are_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    assert main(["serve", "--workers", "2"]) == 1
    assert "--workers 2 needs PostgreSQL" in capsys.readouterr().err
