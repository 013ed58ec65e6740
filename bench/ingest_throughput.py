"""Ingest throughput: station records per second through HTTP, beside the raw insert rate.

For each backend, on a fresh migrated database:

1. starts a real ``coalwatch serve`` (uvicorn, a subprocess on a free loopback port);
2. configures through the API one org, a few mines, two belt points and one
   station (Ed25519 key) per mine;
3. builds each station's record stream beforehand (a totalizer sample per point
   every 5 s with increasing totals and a flow, a conveyor state per point every
   30 s, a heartbeat every 60 s) and encodes it as batches of 500;
4. posts the batches over keep-alive HTTP connections, signed, through the HTTP
   transport a station uploads with (``station.uploader.HttpTransport``), with 1 and then 2
   client threads (each thread owns whole stations, so per-station order holds),
   and checks every answer: 200, ``acked_seq`` = the batch's last seq, nothing
   rejected, no duplicates, no gaps, no commands;
5. stops the server, checks that ``records`` holds every record sent and that
   the hourly rollup adds up to the records' increments;
6. then measures, in the same run, the raw insert rate of the same rows (read
   back from ``records``) into the same, emptied table (same indexes) with
   SQLAlchemy Core executemany, 500 rows and one transaction per chunk;

and prints records/s end to end, raw rows/s, and their ratio.

Run: ``.venv/bin/python bench/ingest_throughput.py [--backend sqlite|postgresql|both]
[--records N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.station.uploader import HttpTransport
from coalwatch.storage.models import HourlyProduction, Record
from coalwatch.storage.session import make_engine
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign

from _common import Database, backends, free_port, fresh_database, load, machine, targets

MINES = 10
#: 10 Mt a year: an hour's capacity (A / 330 / 16, 1,894 t) is above what two belts
#: of 150-450 t/h carry, so normal production raises no overproduction alarm
CAPACITY_T = 10_000_000
BELTS = ("B1", "B2")
BATCH = 500
TICK = timedelta(seconds=5)
CONVEYOR_EVERY = 6  # ticks: 30 s
HEARTBEAT_EVERY = 12  # ticks: 60 s
LOCAL = ZoneInfo("Asia/Shanghai")
PLACEHOLDER = datetime(2000, 1, 1, tzinfo=UTC)
#: columns that ingest writes (ingest/service.py, ``_account``); ``id`` is the key
COLUMNS = [c for c in Record.__table__.columns if c.name != "id"]


class BenchError(Exception):
    """The benchmark could not produce a valid figure; the message says why."""


@dataclass
class Stream:
    """One station's records, already encoded in batches; only ``sent_at`` is left."""

    mine: str
    station: str
    key: Any
    #: per batch, the body around the ``sent_at`` value, and the batch's last seq
    batches: list[tuple[bytes, bytes, int]] = field(default_factory=list)

    def body(self, index: int, sent_at: datetime) -> tuple[bytes, int]:
        head, tail, last_seq = self.batches[index]
        return head + sent_at.isoformat().encode() + tail, last_seq


def build_stream(
    mine: str, station: str, key: Any, batches: int, start: datetime, rng: random.Random
) -> Stream:
    total_kg = {belt: rng.randrange(10_000_000, 90_000_000) for belt in BELTS}
    flow_tph = {belt: Decimal(rng.randrange(1500, 4500)).scaleb(-1) for belt in BELTS}
    records: list[dict[str, Any]] = []
    tick = 0
    while len(records) < batches * BATCH:
        ts = (start + tick * TICK).astimezone(LOCAL).isoformat()
        for belt in BELTS:
            step = rng.randrange(-200, 201)
            flow_tph[belt] = min(max(flow_tph[belt] + Decimal(step).scaleb(-1), 150), Decimal(450))
            total_kg[belt] += round(flow_tph[belt] * 1000 * 5 / 3600)
            records.append(
                {
                    "ts": ts,
                    "type": "totalizer",
                    "point": belt,
                    "total_t": Decimal(total_kg[belt]).scaleb(-3),
                    "flow_tph": flow_tph[belt],
                }
            )
        if tick % CONVEYOR_EVERY == 0:
            records.extend(
                {"ts": ts, "type": "conveyor", "point": b, "running": True} for b in BELTS
            )
        if tick % HEARTBEAT_EVERY == 0:
            records.append({"ts": ts, "type": "heartbeat"})
        tick += 1
    stream = Stream(mine, station, key)
    marker = PLACEHOLDER.isoformat().encode()
    for index in range(batches):
        chunk = [
            {"seq": seq, **record}
            for seq, record in enumerate(
                records[index * BATCH : (index + 1) * BATCH], start=index * BATCH + 1
            )
        ]
        records[index * BATCH : (index + 1) * BATCH] = chunk
        body = encode_batch(station, PLACEHOLDER, chunk)
        head, tail = body.split(marker, 1)
        stream.batches.append((head, tail, chunk[-1]["seq"]))
    # the spliced body is byte for byte what the wire module encodes
    now = datetime.now(LOCAL)
    if stream.body(0, now)[0] != encode_batch(station, now, records[:BATCH]):
        raise BenchError("spliced body differs from encode_batch")
    return stream


#: seconds a server may take to answer after its start (a busy machine is slow to import)
START_S = 180


class Server:
    """``coalwatch serve`` in a subprocess, on a free loopback port."""

    def __init__(self, url: str, log: Path, jobs: bool = True) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "COALWATCH_DATABASE_URL": url,
            "COALWATCH_LOG_LEVEL": "WARNING",
            "COALWATCH_JOBS": "true" if jobs else "false",
            "COALWATCH_TIMEZONE": "Asia/Shanghai",
            # files of its own (audit checkpoints, backups): a checkpoint of another run's
            # database would read as a rewritten audit chain
            "COALWATCH_VAR_DIR": str(log.parent / "var"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "coalwatch.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"coalwatch {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self) -> None:
        self.start_serve([])

    def start_serve(self, args: list[str]) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "coalwatch.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *args,
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/api/v1/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"the server did not answer within {START_S} s")

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used (Linux /proc), None where unknown."""
        if self.process is None:
            return None
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def configure(server: Server, token: str, streams_wanted: int) -> list[tuple[str, str, Any]]:
    """An org, mines with two belt points each, one station per mine: through the API."""
    headers = {"Authorization": f"Bearer {token}"}
    made: list[tuple[str, str, Any]] = []
    with httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=30) as client:

        def post(path: str, body: dict[str, Any]) -> None:
            answer = client.post(path, json=body)
            if answer.status_code >= 300:
                raise BenchError(f"POST {path}: {answer.status_code} {answer.text}")

        post("/orgs", {"code": "BENCH", "name": "基准 县", "kind": "county"})
        for index in range(streams_wanted):
            mine, station = f"BM{index:02d}", f"BS{index:02d}"
            post(
                "/mines",
                {
                    "code": mine,
                    "name": f"{mine} 矿",
                    "org": "BENCH",
                    "annual_capacity_t": CAPACITY_T,
                },
            )
            for belt in BELTS:
                post(
                    f"/mines/{mine}/points",
                    {"code": belt, "name": f"{belt} 皮带秤", "kind": "belt"},
                )
            key = generate_private_key()
            post(f"/mines/{mine}/stations", {"code": station, "public_key": public_key_b64(key)})
            made.append((mine, station, key))
    return made


def post_batches(base: str, streams: Sequence[Stream], indexes: range) -> int:
    """Post batches ``indexes`` of each stream in turn on one keep-alive connection, through
    the HTTP transport a station uploads with (``station.uploader.HttpTransport``)."""
    sent = 0
    transport = HttpTransport(timeout_s=120)
    try:
        for index in indexes:
            for stream in streams:
                body, last_seq = stream.body(index, datetime.now(LOCAL))
                status, text = transport.post(
                    f"{base}/api/v1/stations/{stream.station}/batches",
                    body,
                    {"X-Signature": sign(stream.key, body), "Content-Type": "application/json"},
                )
                if status != 200:
                    raise BenchError(f"{stream.station} batch {index}: {status} {text[:500]!r}")
                got = json.loads(text)
                if got["acked_seq"] != last_seq or got["rejected"] or got["duplicates"]:
                    raise BenchError(f"{stream.station} batch {index}: unexpected answer {got}")
                if got["gaps"] or got["commands"]:
                    raise BenchError(f"{stream.station} batch {index}: unexpected answer {got}")
                sent += BATCH
    finally:
        transport.close()
    return sent


def timed_upload(base: str, streams: Sequence[Stream], indexes: range, threads: int) -> float:
    """Records/s with ``threads`` client threads, stations split between them."""
    groups = [streams[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(group: Sequence[Stream]) -> int:
        barrier.wait()
        return post_batches(base, group, indexes)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, group) for group in groups]
        barrier.wait()
        started = time.perf_counter()
        sent = sum(f.result() for f in futures)
        elapsed = time.perf_counter() - started
    return sent / elapsed


def check_stored(engine: Engine, expected: int) -> None:
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Record))
        increments = session.scalar(select(func.coalesce(func.sum(Record.increment_kg), 0)))
        rolled = session.scalar(select(func.coalesce(func.sum(HourlyProduction.measured_kg), 0)))
        alarms = session.execute(
            select(Alarm.type, func.count()).group_by(Alarm.type).order_by(Alarm.type)
        ).all()
    if stored != expected:
        raise BenchError(f"{stored} rows in records, {expected} sent")
    if increments != rolled:
        raise BenchError(f"records' increments {increments} kg, hourly rollup {rolled} kg")
    print(f"  stored: {stored} rows in records (= sent); hourly rollup = records' increments")
    raised = ", ".join(f"{kind} × {count}" for kind, count in alarms) or "none"
    print(f"  alarms raised: {raised}")


def raw_insert_rate(engine: Engine, backend: str) -> tuple[float, int]:
    """Rows/s of the stored rows re-inserted by Core executemany, 500 per transaction."""
    with engine.connect() as connection:
        rows = [
            dict(r)
            for r in connection.execute(select(*COLUMNS).order_by(Record.id)).mappings().all()
        ]
    with engine.begin() as connection:
        if backend == "postgresql":
            connection.execute(text("TRUNCATE records"))
        else:
            connection.execute(text("DELETE FROM records"))
    if backend == "sqlite":
        raw_connection = engine.raw_connection()  # outside SQLAlchemy's BEGIN IMMEDIATE
        try:
            raw_connection.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
        finally:
            raw_connection.close()
    else:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE records"
            )
    statement = insert(Record.__table__)
    started = time.perf_counter()
    for offset in range(0, len(rows), BATCH):
        with engine.begin() as connection:
            connection.execute(statement, rows[offset : offset + BATCH])
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Record))
    if count != len(rows):
        raise BenchError(f"raw insert stored {count} rows of {len(rows)}")
    return len(rows) / elapsed, len(rows)


def run_backend(backend: str, records: int) -> dict[str, float]:
    per_run = max(1, round((records / (MINES * BATCH) - 1) / 2))
    batches = 1 + 2 * per_run  # one warm-up batch per station, then two timed runs
    with fresh_database(backend, "ingest") as db, tempfile.TemporaryDirectory() as tmp:
        print(f"\n== {backend} ({db.where})")
        # background jobs off: the timer rules would take the hours of backlog for
        # silence (no data while running); they are not ingest, and cost the same
        # whatever the ingest rate
        server = Server(db.url, Path(tmp) / "server.log", jobs=False)
        token = server.cli("token", "create", "--name", "bench", "--write").strip().splitlines()[-1]
        try:
            server.start()
            return _measure(db, server, token, batches, per_run)
        finally:
            server.stop()


def _measure(
    db: Database, server: Server, token: str, batches: int, per_run: int
) -> dict[str, float]:
    started = time.perf_counter()
    made = configure(server, token, MINES)
    rng = random.Random(20260301)
    ticks = batches * BATCH / (len(BELTS) + len(BELTS) / CONVEYOR_EVERY + 1 / HEARTBEAT_EVERY)
    # the streams end two minutes before now: every record is in the past
    first_ts = datetime.now(UTC).replace(second=0, microsecond=0) - (ticks + 24) * TICK
    streams = [build_stream(m, s, k, batches, first_ts, rng) for m, s, k in made]
    total = len(streams) * batches * BATCH
    print(
        f"  {len(streams)} mines × {len(BELTS)} belts, one station each; "
        f"{batches} batches of {BATCH} per station = {total} records "
        f"(setup and encoding {time.perf_counter() - started:.1f} s)"
    )
    warm = post_batches(server.base, streams, range(0, 1))
    print(f"  warm-up: {warm} records (one batch per station, not timed)")
    figures: dict[str, float] = {}
    next_batch = 1
    for threads in (1, 2):
        indexes = range(next_batch, next_batch + per_run)
        next_batch += per_run
        cpu_before = server.cpu_seconds()
        rate = timed_upload(server.base, streams, indexes, threads)
        cpu_after = server.cpu_seconds()
        figures[f"http_{threads}"] = rate
        sent = len(streams) * per_run * BATCH
        busy = ""
        if cpu_before is not None and cpu_after is not None:
            per_batch = (cpu_after - cpu_before) / (sent / BATCH) * 1000
            busy = (
                f"; server process CPU {per_batch:.1f} ms per batch "
                f"({per_batch / (BATCH / rate * 1000):.0%} of the wall time)"
            )
        print(
            f"  end to end, {threads} client thread{'s' if threads > 1 else ''}: "
            f"{sent} records, {rate:,.0f} records/s{busy}"
        )
    server.stop()
    engine = make_engine(db.url)
    try:
        check_stored(engine, total)
        raw, _rows = raw_insert_rate(engine, db.backend)
    finally:
        engine.dispose()
    figures["raw"] = raw
    print(f"  raw insert, Core executemany, {BATCH} rows per transaction: {raw:,.0f} rows/s")
    for threads in (1, 2):
        ratio = figures[f"http_{threads}"] / raw
        figures[f"ratio_{threads}"] = ratio
        print(
            f"  ratio end to end / raw, {threads} thread{'s' if threads > 1 else ''}: {ratio:.2f}"
        )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--records", type=int, default=100_000, help="records per backend (about; default 100000)"
    )
    args = parser.parse_args(argv)
    print(f"ingest throughput, {machine()}")
    results = {}
    try:
        for backend in backends(args.backend):
            results[backend] = run_backend(backend, args.records)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"\nsummary (records/s; {load()})")
    heads = ("1 thread", "2 threads", "raw", "ratio 1", "ratio 2")
    print(f"  {'backend':<11} " + " ".join(f"{h:>10}" for h in heads))
    for backend, f in results.items():
        print(
            f"  {backend:<11} {f['http_1']:>10,.0f} {f['http_2']:>10,.0f} {f['raw']:>10,.0f} "
            f"{f['ratio_1']:>10.2f} {f['ratio_2']:>10.2f}"
        )
    targets(
        [
            (
                f"{backend}: HTTP batches of {BATCH} ≥ 0.5 × the raw insert rate (1 thread)",
                f"{f['ratio_1']:.2f}",
                f["ratio_1"] >= 0.5,
            )
            for backend, f in results.items()
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
