"""Province load: 2,500 mines × 4 points, a record every 10 s each, for 10 minutes, on PostgreSQL.

On a fresh migrated schema in the PostgreSQL test database (dropped at the end):

1. starts a real ``coalwatch serve`` (uvicorn, a subprocess on a free loopback
   port, background jobs on);
2. configures through the API one county, ``--mines`` mines (30 Mt/a, so normal
   production raises no overproduction alarm), each with three belt scales
   (B1–B3) and one skip (K1), and one station per mine (Ed25519 key); every mine's
   system is then recorded as accepted long ago, as in a province in service;
   what a province in service has done already is done before the load: past 00:10
   local time the jobs' daily reports of the day before (waited for), and the backup
   the configuration change calls for (``coalwatch backup create``);
3. drives the stations from ``--senders`` processes (an asyncio loop each, one
   keep-alive HTTP connection pool each): every station, at its own phase,
   makes every 10 s one record per point (a totalizer reading per belt, a trip
   per skip, timestamped now) and puts them in its outbox; it sends what its
   outbox holds (at most 500 records) as one signed batch as a real station
   does: when records wait and no batch of its is in flight, so a center that
   falls behind gets fewer, larger batches instead of a queue of small ones;
   every answer is checked (200, ``acked_seq`` = the batch's last seq, nothing
   rejected, no duplicates, no gaps) and only then are the records dropped;
4. after ``--minutes`` stops making records, lets the outboxes drain, stops
   the server, and checks zero loss: ``records`` holds exactly the records sent,
   each station's ``max_seq`` is its last seq, every station's seqs are 1..last
   with no duplicate, no gap is open, and each mine's day in ``daily_production``
   and in the summary API (``day.gross_t``) equals, to the kilogram, what its
   station's sender computed (belt: the sum of the differences of consecutive
   readings, the first one a baseline of 0; skip: the sum of the trips).

Prints records made / accepted, batches achieved / offered, throughput, upload
latency (request p50 / p99 / max, and the age of a record when its ack came back),
batch → alarm on the event stream (a probe station beside the load opens its
enclosure every few seconds: from the POST of that batch to the ``alarm`` event on
a browser-like SSE client), the false ``comm_interruption`` alarms (every station
is alive: each one is false), the center's CPU (every process of it: the web
workers and the jobs process) per batch, and the zero-loss check.
``--mines 100 --minutes 1`` is a quick try.

``--workers N`` runs ``coalwatch serve --workers N``; ``--jobs-process`` runs the
background jobs in a ``coalwatch jobs`` process of their own beside
``serve --no-jobs``.

Run: ``.venv/bin/python bench/province_load.py [--mines 2500] [--minutes 10] [--senders 2]
[--workers 2] [--jobs-process]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from coalwatch.alarms.models import Alarm
from coalwatch.reports.models import ReportRevision
from coalwatch.reports.service import GENERATE_AFTER
from coalwatch.storage.models import (
    DailyProduction,
    Mine,
    QuarantinedRecord,
    Record,
    Station,
    StationGap,
)
from coalwatch.storage.session import make_engine
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import (
    generate_private_key,
    load_private_key_pem,
    private_key_pem,
    public_key_b64,
    sign,
)

from _common import accept_all, fresh_database, load, machine, percentile, targets
from ingest_throughput import BenchError, Server

#: the probe station's enclosure opens (an alarm) and closes every this many seconds
PROBE_S = 4.0
PROBE_STATION = "PROBE-S"


class Center(Server):
    """``coalwatch serve [--workers N] [--no-jobs]`` and, if asked, ``coalwatch jobs``."""

    def __init__(self, url: str, log: Path, workers: int, jobs_process: bool) -> None:
        super().__init__(url, log, jobs=True)
        self.workers = workers
        self.jobs_process = jobs_process
        self.jobs: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--workers", str(self.workers)]
        if self.jobs_process:
            args.append("--no-jobs")
        self.start_serve(args)
        if self.jobs_process:
            with self.log.with_suffix(".jobs.log").open("wb") as out:
                self.jobs = subprocess.Popen(
                    [sys.executable, "-m", "coalwatch.cli", "jobs"],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

    def cpu_seconds(self) -> float | None:
        """CPU time of the whole center: the serve process, its workers (and the jobs
        process serve --workers starts), and a separate jobs process."""
        return sum(self.cpu_parts().values())

    def cpu_parts(self) -> dict[str, float]:
        """``cpu_seconds`` in two parts: ``serve`` (the serve process and its children)
        and ``jobs`` (a separate jobs process, with ``--jobs-process``)."""
        parts = {"serve": 0.0, "jobs": 0.0}
        jobs = _descendants([self.jobs.pid]) if self.jobs is not None else set()
        for pid in _descendants([p.pid for p in (self.process, self.jobs) if p is not None]):
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            parts["jobs" if pid in jobs else "serve"] += seconds
        return parts

    def stop(self) -> None:
        try:
            if self.jobs is not None and self.jobs.poll() is None:
                self.jobs.terminate()
                try:
                    self.jobs.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    print("  the jobs process did not stop within 30 s of SIGTERM: killed")
                    self.jobs.kill()
                    self.jobs.wait()
        finally:
            super().stop()


def _descendants(roots: list[int]) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


class AlarmProbe:
    """A station of its own that opens its enclosure every ``PROBE_S`` (an alarm) and
    closes it, and an event stream on the center: batch → alarm on the stream."""

    def __init__(self, base: str, token: str, spec: StationSpec) -> None:
        self.base, self.token, self.spec = base, token, spec
        self.key = load_private_key_pem(spec.key_pem)
        self.latencies_ms: list[float] = []
        self.missed = 0
        self._stop = threading.Event()
        self._raised = threading.Condition()
        self._seen: dict[int, float] = {}  # probe number → when its alarm came
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        opened = threading.Event()
        for target, args in ((self._listen, (opened,)), (self._send, ())):
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)
            if target == self._listen and not opened.wait(30):
                raise BenchError("the event stream did not open")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PROBE_S * 3)

    def _listen(self, opened: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=None) as client:
            ticket = client.post("/api/v1/events/tickets").json()["ticket"]
            kind = ""
            with client.stream("GET", "/api/v1/events", params={"ticket": ticket}) as stream:
                for line in stream.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        opened.set()
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "alarm":
                        data = json.loads(line[6:])
                        if data.get("mine") == self.spec.mine and data["transition"] == "raised":
                            with self._raised:
                                self._seen[len(self._seen)] = time.monotonic()
                                self._raised.notify_all()

    def _send(self) -> None:
        seq = 0
        with httpx.Client(base_url=self.base, timeout=120) as client:
            while not self._stop.wait(PROBE_S / 2):
                for event in ("enclosure_open", "enclosure_closed"):
                    seq += 1
                    now = datetime.now(UTC)
                    record = {"seq": seq, "ts": now, "type": "event", "point": "B1", "event": event}
                    body = encode_batch(self.spec.station, now, [record])
                    with self._raised:
                        expected = len(self._seen) + 1
                    sent = time.monotonic()
                    # as a station does: the same record again until the center holds it
                    while not self._stop.is_set():
                        try:
                            answer = client.post(
                                f"/api/v1/stations/{self.spec.station}/batches",
                                content=body,
                                headers={"X-Signature": sign(self.key, body)},
                            )
                        except httpx.TransportError:
                            continue
                        if answer.status_code == 200:
                            break
                        time.sleep(1)
                    else:
                        return
                    if event != "enclosure_open":
                        continue
                    with self._raised:
                        self._raised.wait_for(lambda n=expected: len(self._seen) >= n, timeout=10)
                        if len(self._seen) >= expected:
                            self.latencies_ms.append((self._seen[expected - 1] - sent) * 1000)
                        else:
                            self.missed += 1
                    if self._stop.wait(PROBE_S / 2):
                        return


CAPACITY_T = 30_000_000
BELTS = ("B1", "B2", "B3")
SKIPS = ("K1",)
PERIOD_S = 10.0
BATCH = 500
LOCAL = ZoneInfo("Asia/Shanghai")
#: after the load, how long the outboxes may take to drain before the run ends anyway
DRAIN_S = 180.0
#: the acks are counted in buckets of this many seconds from the start
BUCKET_S = 60.0
#: HTTP connections per sender process; a batch is encoded (its sent_at set) only when
#: one is free, so waiting for a connection on this side never looks like clock skew
CONNECTIONS = 64
#: seconds a sender's idle connection is used again (uvicorn closes them after 5)
KEEP_ALIVE_S = 3.0


@dataclass
class StationSpec:
    mine: str
    station: str
    key_pem: bytes


@dataclass
class SenderResult:
    """What one sender process made, sent and saw; returned to the parent."""

    made: int = 0
    accepted: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    record_age_ms: list[float] = field(default_factory=list)
    last_seq: dict[str, int] = field(default_factory=dict)
    #: per mine, per local day: kg as the station computed it
    day_kg: dict[str, dict[date, int]] = field(default_factory=dict)
    left: int = 0  # records still in outboxes at the end
    #: answers that counted duplicates: a re-send after an answer lost in transport
    duplicates: int = 0
    cpu_s: float = 0.0
    #: records acked per BUCKET_S from the start of the load (wall clock, epoch seconds)
    acked_per_bucket: dict[int, int] = field(default_factory=dict)


class SimStation:
    """One station: its instruments' state and its outbox (in memory)."""

    def __init__(self, spec: StationSpec, rng: random.Random) -> None:
        self.spec = spec
        self.key = load_private_key_pem(spec.key_pem)
        self.rng = rng
        self.total_kg = {b: rng.randrange(10_000_000, 90_000_000) for b in BELTS}
        self.flow_tph = {b: Decimal(rng.randrange(1500, 4500)).scaleb(-1) for b in BELTS}
        self.previous_kg: dict[str, int | None] = dict.fromkeys(BELTS)
        self.seq = 0
        self.outbox: list[tuple[float, dict[str, Any]]] = []  # (made at, record)
        self.lost_answer = False  # the last send failed in transport: duplicates are normal
        self.day_kg: dict[date, int] = defaultdict(int)

    def make(self, now: datetime, made_at: float) -> int:
        """One record per point, as the poller would store them; the expected kg."""
        ts = now.astimezone(LOCAL)
        day = ts.date()
        for belt in BELTS:
            step = self.rng.randrange(-200, 201)
            flow = min(max(self.flow_tph[belt] + Decimal(step).scaleb(-1), Decimal(150)), 450)
            self.flow_tph[belt] = Decimal(flow)
            self.total_kg[belt] += round(self.flow_tph[belt] * 1000 * 10 / 3600)
            # the first reading is a baseline (0 kg); then the difference of consecutive ones
            previous = self.previous_kg[belt]
            if previous is not None:
                self.day_kg[day] += self.total_kg[belt] - previous
            self.previous_kg[belt] = self.total_kg[belt]
            self._put(
                made_at,
                {
                    "ts": ts.isoformat(),
                    "type": "totalizer",
                    "point": belt,
                    "total_t": Decimal(self.total_kg[belt]).scaleb(-3),
                    "flow_tph": self.flow_tph[belt],
                },
            )
        for skip in SKIPS:
            net_kg = self.rng.randrange(2000, 4000)
            self.day_kg[day] += net_kg
            self._put(
                made_at,
                {
                    "ts": ts.isoformat(),
                    "type": "trip",
                    "point": skip,
                    "net_t": Decimal(net_kg).scaleb(-3),
                },
            )
        return len(BELTS) + len(SKIPS)

    def _put(self, made_at: float, record: dict[str, Any]) -> None:
        self.seq += 1
        self.outbox.append((made_at, {"seq": self.seq, **record}))


class TransportError(Exception):
    """The connection failed before a whole answer came back."""


class LeanClient:
    """HTTP/1.1 keep-alive POSTs on asyncio streams, answers parsed by hand: the senders
    share the two cores with the center they measure, and httpx's client cost more CPU a
    request than the center spent on the batch (239 s in a 339 s run)."""

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port or 80
        #: open connections, and when each was last used
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and body of the answer to one POST; ``TransportError`` when the
        connection fails (the request may or may not have been handled)."""
        # a connection left idle near uvicorn's keep-alive time-out (5 s) may be closed
        # by the server as the request goes out: not used again
        while self.idle and self.idle[-1][2] < time.monotonic() - KEEP_ALIVE_S:
            self.idle.pop()[1].close()
        if self.idle:
            reader, writer, _used = self.idle.pop()
        else:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                raise TransportError(f"connect: {exc!r}") from exc
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            writer.write(request + body)
            status, fields = self._head(await reader.readuntil(b"\r\n\r\n"))
            answer = await reader.readexactly(int(fields.get("content-length", "0")))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            writer.close()
            raise TransportError(repr(exc)) from exc
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status, answer

    @staticmethod
    def _head(raw: bytes) -> tuple[int, dict[str, str]]:
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return status, fields

    def close(self) -> None:
        for _reader, writer, _used in self.idle:
            writer.close()
        self.idle.clear()


class Sender:
    """Drives many stations from one process."""

    def __init__(self, base: str, specs: list[StationSpec], minutes: float, seed: int) -> None:
        self.base = base
        rng = random.Random(seed)
        self.stations = [SimStation(s, random.Random(rng.random())) for s in specs]
        self.phases = [rng.uniform(0, PERIOD_S) for _ in specs]
        self.duration_s = minutes * 60
        self.result = SenderResult()
        self.start_at = 0.0
        self.deadline = 0.0
        self.client = LeanClient(base)
        self.slots = asyncio.Semaphore(CONNECTIONS)

    async def run(self, start_at: float) -> SenderResult:
        try:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            self.start_at = start_at
            start = time.monotonic()
            self.deadline = start + PERIOD_S + self.duration_s + DRAIN_S
            tasks = [
                asyncio.create_task(self._station(st, start + phase))
                for st, phase in zip(self.stations, self.phases, strict=True)
            ]
            await asyncio.gather(*tasks)
        finally:
            self.client.close()
        for st in self.stations:
            # the last seq the center acknowledged (the rest is still in the outbox)
            self.result.last_seq[st.spec.station] = st.seq - len(st.outbox)
            self.result.day_kg[st.spec.mine] = dict(st.day_kg)
            self.result.left += len(st.outbox)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.result.cpu_s = usage.ru_utime + usage.ru_stime
        return self.result

    async def _station(self, st: SimStation, first: float) -> None:
        end = first + self.duration_s
        due = first
        sending: asyncio.Task[None] | None = None
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.result.made += st.make(datetime.now(UTC), time.monotonic())
            due += PERIOD_S
            if sending is None or sending.done():
                sending = asyncio.create_task(self._drain(st))
        if sending is not None:
            await sending
        # the last records of the run
        await self._drain(st)

    async def _drain(self, st: SimStation) -> None:
        """Send until the outbox is empty, one batch at a time (as the uploader does)."""
        failures = 0
        while st.outbox and time.monotonic() < self.deadline:
            if not await self._send(st):
                failures += 1
                await asyncio.sleep(min(30.0, 2.0**failures))

    async def _send(self, st: SimStation) -> bool:
        async with self.slots:
            chunk = st.outbox[:BATCH]
            records = [r for _made, r in chunk]
            body = encode_batch(st.spec.station, datetime.now(UTC), records)
            started = time.monotonic()
            try:
                status, answer = await asyncio.wait_for(
                    self.client.post(
                        f"/api/v1/stations/{st.spec.station}/batches",
                        body,
                        {"X-Signature": sign(st.key, body), "Content-Type": "application/json"},
                    ),
                    timeout=120,
                )
            except (TransportError, TimeoutError) as exc:
                self.result.errors.append(f"{st.spec.station}: {exc!r}")
                st.lost_answer = True
                return False
        done = time.monotonic()
        self.result.request_ms.append((done - started) * 1000)
        if status != 200:
            text = answer[:300].decode(errors="replace")
            self.result.errors.append(f"{st.spec.station}: {status} {text}")
            return False
        got = json.loads(answer)
        last = records[-1]["seq"]
        duplicates = got["duplicates"] and not st.lost_answer
        if got["acked_seq"] != last or got["rejected"] or duplicates or got["gaps"]:
            self.result.errors.append(f"{st.spec.station}: unexpected answer {got}")
            return False
        self.result.duplicates += got["duplicates"]
        st.lost_answer = False
        del st.outbox[: len(chunk)]
        self.result.accepted += len(chunk)
        self.result.batches += 1
        self.result.record_age_ms.extend((done - made) * 1000 for made, _r in chunk)
        bucket = int((time.time() - self.start_at) // BUCKET_S)
        buckets = self.result.acked_per_bucket
        buckets[bucket] = buckets.get(bucket, 0) + len(chunk)
        return True


def sender_main(
    base: str,
    specs: list[StationSpec],
    minutes: float,
    seed: int,
    start_at: float,
    out: Any,
) -> None:
    # uvloop where installed, as the center's uvicorn uses it
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        result = asyncio.run(Sender(base, specs, minutes, seed).run(start_at))
    else:
        result = uvloop.run(Sender(base, specs, minutes, seed).run(start_at))
    out.put(result)


def configure(server: Server, token: str, mines: int) -> list[StationSpec]:
    """A county, the mines with their points and stations: through the API, 4 threads."""
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{server.base}/api/v1"

    def post(client: httpx.Client, path: str, body: dict[str, Any]) -> None:
        answer = client.post(path, json=body)
        if answer.status_code >= 300:
            raise BenchError(f"POST {path}: {answer.status_code} {answer.text}")

    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        post(client, "/orgs", {"code": "PROV", "name": "负荷 县", "kind": "county"})

    def one_group(indexes: range) -> list[StationSpec]:
        made = []
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for index in indexes:
                mine, station = f"LM{index:04d}", f"LS{index:04d}"
                post(
                    client,
                    "/mines",
                    {
                        "code": mine,
                        "name": f"{mine} 矿",
                        "org": "PROV",
                        "annual_capacity_t": CAPACITY_T,
                    },
                )
                for belt in BELTS:
                    post(
                        client,
                        f"/mines/{mine}/points",
                        {"code": belt, "name": f"{belt} 皮带秤", "kind": "belt"},
                    )
                for skip in SKIPS:
                    post(
                        client,
                        f"/mines/{mine}/points",
                        {"code": skip, "name": f"{skip} 箕斗", "kind": "skip"},
                    )
                key = generate_private_key()
                post(
                    client,
                    f"/mines/{mine}/stations",
                    {"code": station, "public_key": public_key_b64(key)},
                )
                made.append(StationSpec(mine, station, private_key_pem(key)))
        return made

    threads = 4
    with ThreadPoolExecutor(threads) as pool:
        groups = list(pool.map(one_group, [range(i, mines, threads) for i in range(threads)]))
    return [spec for group in groups for spec in group]


#: how long the nightly reports of a province may take before the load starts
NIGHTLY_S = 900


def await_nightly_reports(url: str) -> tuple[int, float] | None:
    """Once past 00:10 local time the jobs make every mine's daily report of the day before
    (``reports.generate_due``): in a province in service that is done once a night, not
    during every run. The reports due and the seconds waited for them before the load,
    None when not due. A mine set up today gets none of the day before (it was not there,
    it has no production of that day): the mines of this run, unless it crosses midnight."""
    local = datetime.now(LOCAL)
    if local.time() < GENERATE_AFTER:
        return None
    day = local.date() - timedelta(days=1)
    today = datetime.combine(local.date(), dt_time(), LOCAL)
    began = time.monotonic()
    engine = make_engine(url)
    try:
        while time.monotonic() - began < NIGHTLY_S:
            with engine.connect() as connection:
                due = connection.scalar(
                    select(func.count()).select_from(Mine).where(Mine.created_at < today)
                )
                made = connection.scalar(
                    select(func.count(func.distinct(ReportRevision.mine_id))).where(
                        ReportRevision.day == day
                    )
                )
            if made is not None and made >= (due or 0):
                return due or 0, time.monotonic() - began
            time.sleep(5)
    finally:
        engine.dispose()
    raise BenchError(f"the daily reports of {day} were not made within {NIGHTLY_S} s")


def configure_probe(server: Server, token: str) -> StationSpec:
    """The alarm probe's mine (one belt) and station."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=60) as client:
        for path, body in (
            ("/mines", {"code": "PROBE", "name": "探针 矿", "org": "PROV", "annual_capacity_t": 1}),
            ("/mines/PROBE/points", {"code": "B1", "name": "B1", "kind": "belt"}),
        ):
            answer = client.post(path, json=body)
            if answer.status_code >= 300:
                raise BenchError(f"POST {path}: {answer.status_code} {answer.text}")
        key = generate_private_key()
        answer = client.post(
            "/mines/PROBE/stations", json={"code": PROBE_STATION, "public_key": public_key_b64(key)}
        )
        if answer.status_code >= 300:
            raise BenchError(f"POST probe station: {answer.status_code} {answer.text}")
    return StationSpec("PROBE", PROBE_STATION, private_key_pem(key))


def ms(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return (
        f"p50 {percentile(values, 0.5):,.0f} ms, p99 {percentile(values, 0.99):,.0f} ms, "
        f"max {max(values):,.0f} ms"
    )


def check(
    url: str, server: Server, read_token: str, results: list[SenderResult], began: datetime
) -> tuple[list[str], int]:
    """Zero loss: every record once, every seq, every kilogram. Returns the failures, and
    the false comm_interruption alarms: those of a silence that began once the stations
    were sending (``began``); a station configured longer than the threshold before the
    load began was silent indeed."""
    problems: list[str] = []
    last_seq = {k: v for r in results for k, v in r.last_seq.items()}
    day_kg = {k: v for r in results for k, v in r.day_kg.items()}
    accepted = sum(r.accepted for r in results)
    left = sum(r.left for r in results)
    engine = make_engine(url)
    try:
        with engine.connect() as db:
            stored = db.scalar(
                select(func.count())
                .select_from(Record)
                .join(Station, Station.id == Record.station_id)
                .where(Station.code != PROBE_STATION)
            )
            per_station = {
                code: (n, lo, hi, distinct)
                for code, n, lo, hi, distinct in db.execute(
                    select(
                        Station.code,
                        func.count(Record.id),
                        func.min(Record.seq),
                        func.max(Record.seq),
                        func.count(func.distinct(Record.seq)),
                    )
                    .join(Record, Record.station_id == Station.id, isouter=True)
                    .group_by(Station.code)
                )
            }
            max_seq = dict(db.execute(select(Station.code, Station.max_seq)).all())
            gaps = db.scalar(select(func.count()).select_from(StationGap))
            quarantined = db.scalar(select(func.count()).select_from(QuarantinedRecord))
            daily: dict[str, dict[date, int]] = defaultdict(dict)
            for code, day, kg in db.execute(
                select(Mine.code, DailyProduction.local_day, func.sum(DailyProduction.measured_kg))
                .join(Mine, Mine.id == DailyProduction.mine_id)
                .group_by(Mine.code, DailyProduction.local_day)
            ):
                daily[code][day] = int(kg)
            alarms = db.execute(
                select(Alarm.type, func.count()).group_by(Alarm.type).order_by(Alarm.type)
            ).all()
            silences = db.execute(
                select(Alarm.start, Alarm.end, Alarm.threshold)
                .where(Alarm.type == "comm_interruption")
                .order_by(Alarm.start)
            ).all()
    finally:
        engine.dispose()
    print(f"  records table: {stored:,} rows; acknowledged {accepted:,}")
    if stored != accepted:
        problems.append(f"{stored} rows in records, {accepted} acknowledged")
    bad = [
        code
        for code, last in last_seq.items()
        if per_station.get(code) != (last, 1, last, last) or max_seq.get(code) != last
    ]
    print(
        f"  stations: {len(last_seq) - len(bad):,} of {len(last_seq):,} with seqs exactly 1..last "
        f"(count = distinct = last, max_seq = last)"
    )
    if bad:
        problems.append(f"{len(bad)} stations lost or doubled records, e.g. {bad[:5]}")
    if gaps or quarantined:
        problems.append(f"{gaps} open gaps, {quarantined} quarantined records")
    if left:
        print(f"  {left:,} records still in the outboxes: the day figures are not comparable")
        return problems, -1
    wrong_days = [
        m
        for m, days in day_kg.items()
        if daily.get(m, {}) != {d: kg for d, kg in days.items() if kg}
    ]
    print(
        f"  daily_production: {len(day_kg) - len(wrong_days):,} of {len(day_kg):,} mines' days "
        "equal the senders' sums to the kg"
    )
    if wrong_days:
        problems.append(f"{len(wrong_days)} mines' daily figures differ, e.g. {wrong_days[:5]}")
    api_wrong = api_days(server, read_token, day_kg)
    print(
        f"  summary API: {len(day_kg) - len(api_wrong):,} of {len(day_kg):,} mines' day.gross_t "
        "equal the senders' sums"
    )
    if api_wrong:
        problems.append(f"{len(api_wrong)} mines' summary day differs, e.g. {api_wrong[:5]}")
    raised = ", ".join(f"{kind} × {count}" for kind, count in alarms) or "none"
    print(f"  alarms raised: {raised}")
    before = [s for s in silences if silent_since(s) < began]
    false_silence = len(silences) - len(before)
    print(
        f"  false comm_interruption (silent only while every station was sending): {false_silence}"
    )
    if before:
        print(
            f"  comm_interruption of a silence that began before the load (stations configured "
            f"more than the threshold before they first sent; not false): {len(before)}"
        )
    if silences:
        describe_silences(silences)
    return problems, false_silence


def silent_since(alarm: Any) -> datetime:
    """When the silence of a comm_interruption began: its start less the threshold."""
    minutes = int(str(alarm.threshold).split()[0])
    start: datetime = alarm.start
    return start - timedelta(minutes=minutes)


def describe_silences(silences: Sequence[Any]) -> None:
    """When the comm_interruption alarms were raised, and how long each station really
    went unheard (from the last batch committed before the alarm to the one that ended
    it): what tells a lag the ingest horizon missed from a sender that did not send."""
    first = silences[0].start
    threshold = silences[0].threshold
    gaps = sorted((s.end - s.start).total_seconds() for s in silences if s.end is not None)
    print(
        f"  comm_interruption: threshold {threshold}; starts from {first:%H:%M:%S} to "
        f"{silences[-1].start:%H:%M:%S} UTC; {len(gaps)} ended, heard again "
        + (
            f"p50 {percentile(gaps, 0.5):.1f} s / max {gaps[-1]:.1f} s after the threshold"
            if gaps
            else "(none)"
        )
    )


def api_days(server: Server, token: str, day_kg: dict[str, dict[date, int]]) -> list[str]:
    """Mines whose summary API day differs from the sender's figure (at the end of each day)."""
    headers = {"Authorization": f"Bearer {token}"}
    jobs = [(mine, day, kg) for mine, days in day_kg.items() for day, kg in days.items()]

    def one_group(group: list[tuple[str, date, int]]) -> list[str]:
        wrong = []
        with httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=60) as client:
            for mine, day, kg in group:
                # the summary up to the last instant of that local day (or now, for today)
                at = min(
                    datetime.now(LOCAL),
                    datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LOCAL),
                )
                answer = client.get(f"/mines/{mine}/summary", params={"at": at.isoformat()})
                if answer.status_code != 200:
                    wrong.append(f"{mine}: {answer.status_code}")
                    continue
                gross = Decimal(str(answer.json()["day"]["gross_t"]))
                if gross != Decimal(kg).scaleb(-3):
                    wrong.append(f"{mine} {day}: {gross} t, sender {Decimal(kg).scaleb(-3)} t")
        return wrong

    with ThreadPoolExecutor(4) as pool:
        return [w for ws in pool.map(one_group, [jobs[i::4] for i in range(4)]) for w in ws]


def run(mines: int, minutes: float, senders: int, workers: int, jobs_process: bool) -> int:
    with fresh_database("postgresql", "province") as db, tempfile.TemporaryDirectory() as tmp:
        print(f"\n== postgresql ({db.where})")
        server = Center(db.url, Path(tmp) / "server.log", workers, jobs_process)
        print(
            f"  center: serve --workers {workers}"
            + (" --no-jobs, and a coalwatch jobs process" if jobs_process else ", jobs beside it")
        )
        token = server.cli("token", "create", "--name", "load", "--write").strip().splitlines()[-1]
        read_token = server.cli("token", "create", "--name", "read").strip().splitlines()[-1]
        try:
            server.start()
            started = time.perf_counter()
            specs = configure(server, token, mines)
            probe = AlarmProbe(server.base, token, configure_probe(server, token))
            accepted = accept_all(db.url)
            print(
                f"  configured {mines:,} mines × {len(BELTS)} belts + {len(SKIPS)} skip, one "
                f"station each, through the API in {time.perf_counter() - started:.0f} s; "
                f"{accepted:,} mines' systems accepted (acceptance decisions of 2000-01-01)"
            )
            nightly = await_nightly_reports(db.url)
            if nightly is not None:
                due, waited = nightly
                print(
                    f"  the jobs made the {due:,} daily reports of the day before due (from "
                    f"00:10 local time; none for a mine set up today) in {waited:.0f} s, "
                    f"waited for before the load"
                )
            # the backup a change of the configuration calls for (backups/service.py: due
            # once it has been quiet for 5 min), made now as a province in service has it:
            # else the jobs make it in the middle of the load, of a growing records table
            began = time.perf_counter()
            server.cli("backup", "create")
            print(f"  the backup after the configuration made before the load in "
                  f"{time.perf_counter() - began:.0f} s (coalwatch backup create)")  # fmt: skip
            rate = mines * (len(BELTS) + len(SKIPS)) / PERIOD_S
            print(
                f"  offered load: {rate:,.0f} records/s ({mines:,} stations × one batch per "
                f"{PERIOD_S:g} s) for {minutes:g} min, {senders} sender processes"
            )
            context = multiprocessing.get_context("spawn")
            out = context.Queue()
            start_at = time.time() + 2 + 0.3 * senders
            processes = [
                context.Process(
                    target=sender_main,
                    args=(server.base, specs[i::senders], minutes, 1000 + i, start_at, out),
                )
                for i in range(senders)
            ]
            for process in processes:
                process.start()
            probe.start()
            parts_before = server.cpu_parts()
            wall_before = time.monotonic()
            load_samples: list[float] = []
            results: list[SenderResult] = []
            while len(results) < senders:
                try:
                    results.append(out.get(timeout=10))
                except Exception:  # queue.Empty: sample the load while the run goes on
                    load_samples.append(os.getloadavg()[0])
                    if not any(p.is_alive() for p in processes) and out.empty():
                        raise BenchError("a sender process died") from None
            wall = time.monotonic() - wall_before
            parts = {k: v - parts_before[k] for k, v in server.cpu_parts().items()}
            cpu = sum(parts.values())
            probe.stop()
            for process in processes:
                process.join(timeout=30)
            code = report(
                db.url,
                server,
                read_token,
                results,
                mines,
                minutes,
                wall,
                cpu,
                load_samples,
                probe,
                began=datetime.fromtimestamp(start_at, UTC),
                cpu_parts=parts,
            )
        finally:
            try:
                server.stop()
            finally:
                # the center's logs outlive a run that failed or met errors: its cause is in
                # them (the web processes' and a separate jobs process's)
                for log in (server.log, server.log.with_suffix(".jobs.log")):
                    if log.exists():
                        kept = Path(f"province-load-{os.getpid()}{log.name.removeprefix('server')}")
                        shutil.copyfile(log, kept)
                        print(f"  the center's log: {kept.resolve()}")
        return code


def report(
    url: str,
    server: Server,
    read_token: str,
    results: list[SenderResult],
    mines: int,
    minutes: float,
    wall: float,
    cpu: float,
    load_samples: list[float],
    probe: AlarmProbe,
    *,
    began: datetime,
    cpu_parts: dict[str, float] | None = None,
) -> int:
    """``began``: when the senders began sending; ``cpu_parts``: the center's CPU seconds
    by process (``Center.cpu_parts``)."""
    made = sum(r.made for r in results)
    accepted = sum(r.accepted for r in results)
    batches = sum(r.batches for r in results)
    errors = [e for r in results for e in r.errors]
    request_ms = [v for r in results for v in r.request_ms]
    ages = [v for r in results for v in r.record_age_ms]
    run_s = minutes * 60
    left = sum(r.left for r in results)
    print(f"  records made {made:,}, accepted {accepted:,}, left in outboxes {left}")
    print(
        f"  throughput: {accepted / wall:,.0f} records/s over {wall:.0f} s (run and drain); "
        f"made at {made / run_s:,.0f} records/s"
    )
    print(
        f"  batches: {batches:,} ({batches / wall:,.1f}/s, {accepted / max(batches, 1):.1f} "
        f"records each on average; the stations offer {mines / PERIOD_S:,.0f}/s)"
    )
    buckets: dict[int, int] = defaultdict(int)
    for r in results:
        for bucket, n in r.acked_per_bucket.items():
            buckets[bucket] += n
    timeline = ", ".join(
        f"{buckets.get(b, 0) / BUCKET_S:,.0f}" for b in range(max(buckets, default=-1) + 1)
    )
    offered = mines * minutes * 60 / PERIOD_S
    print(
        f"  batches achieved / offered: {batches:,} / {offered:,.0f} = {batches / offered:.0%} "
        "(a center that falls behind gets fewer, larger batches)"
    )
    print(f"  acked records/s, minute by minute from the start: {timeline}")
    print(f"  upload request latency: {ms(request_ms)}")
    print(f"  record made → acked: {ms(ages)}")
    print(
        f"  batch → alarm on the event stream: {ms(probe.latencies_ms)} "
        f"({len(probe.latencies_ms)} probes, {probe.missed} not seen within 10 s)"
    )
    print(
        f"  center CPU (all its processes): {cpu:,.0f} s in {wall:,.0f} s = {cpu / wall:.0%} of "
        f"one core, {cpu * 1000 / max(batches, 1):.1f} ms per batch; "
        f"senders {sum(r.cpu_s for r in results):,.0f} s"
    )
    if cpu_parts and cpu_parts.get("jobs"):
        per_batch = {k: v * 1000 / max(batches, 1) for k, v in cpu_parts.items()}
        print(
            f"    of which the web processes {cpu_parts['serve']:,.0f} s "
            f"({per_batch['serve']:.1f} ms per batch), the jobs process "
            f"{cpu_parts['jobs']:,.0f} s ({per_batch['jobs']:.1f} ms per batch)"
        )
    if load_samples:
        print(
            f"  machine load average (1 min) during the run: min {min(load_samples):.2f}, "
            f"max {max(load_samples):.2f}; {load()}"
        )
    print(
        f"  upload errors (retried): {len(errors)}{': ' + '; '.join(errors[:5]) if errors else ''}"
    )
    print(
        f"  duplicates the center counted (re-sends after a lost answer): "
        f"{sum(r.duplicates for r in results)}"
    )
    problems, false_silence = check(url, server, read_token, results, began)
    for problem in problems:
        print(f"  LOSS: {problem}")
    left = sum(r.left for r in results)
    if left and not problems:
        print(
            f"  NOT KEPT UP: {left:,} records still waiting in the stations' outboxes "
            f"{DRAIN_S:g} s after the load; every acknowledged record stored exactly once"
        )
    if not problems and not left:
        print("  zero loss: every record stored exactly once, every seq, every kilogram")
    achieved = batches / offered
    record_p99 = percentile(ages, 0.99) if ages else float("inf")
    alarm_p99 = percentile(probe.latencies_ms, 0.99) if probe.latencies_ms else float("inf")
    cpu_ms = cpu * 1000 / max(batches, 1)
    targets(
        [
            ("batches achieved ≥ 95 % of those offered", f"{achieved:.0%}", achieved >= 0.95),
            ("record → acknowledged p99 < 2 s", f"{record_p99 / 1000:,.1f} s", record_p99 < 2000),
            (
                "batch → alarm on the event stream p99 < 1 s",
                f"{alarm_p99 / 1000:,.1f} s ({probe.missed} not seen)",
                alarm_p99 < 1000 and not probe.missed,
            ),
            (
                "no false comm_interruption",
                "not judged (records left)" if false_silence < 0 else str(false_silence),
                false_silence == 0,
            ),
            ("zero loss, to the kilogram", "yes" if not problems else "NO", not problems),
            (
                "center CPU ≤ 3 ms per 4-record batch (all its work, jobs included)",
                f"{cpu_ms:.1f} ms per batch of {accepted / max(batches, 1):.1f} records",
                cpu_ms <= 3,
            ),
        ]
    )
    if problems:
        return 1
    return 2 if left else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mines", type=int, default=2500, help="mines (stations), default 2500")
    parser.add_argument("--minutes", type=float, default=10, help="minutes of load, default 10")
    parser.add_argument("--senders", type=int, default=2, help="sender processes, default 2")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers, default 1")
    parser.add_argument(
        "--jobs-process",
        action="store_true",
        help="the jobs in a coalwatch jobs process (serve --no-jobs)",
    )
    args = parser.parse_args(argv)
    print(f"province load, {machine()}")
    try:
        return run(args.mines, args.minutes, args.senders, args.workers, args.jobs_process)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
