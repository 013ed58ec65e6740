"""Batch cost: the center's CPU per small station batch, and where it goes.

For each backend, on a fresh migrated database (a schema of its own in the
PostgreSQL test database, or a SQLite file; removed at the end):

1. builds the center in process (``web.app.create_app``, background jobs off),
   configures **through the API** (``TestClient``) one county and
   ``--mines`` mines of 30 Mt/a, each with three belt scales (B1-B3), one skip
   (K1) and one station (Ed25519 key), as ``province_load.py`` does, then settles
   the heap as ``serve`` does once it is built (``web.app.settle_heap``: one
   collection, then ``gc.freeze``);
2. every round (10 s of station time), every station sends one signed batch of
   4 records, as a station of the load run that keeps up: a totalizer reading
   per belt (increasing totals) and a trip of the skip; the first round is a
   warm-up (the first readings are baselines), the others are timed;
3. each batch goes through the path of the upload endpoint, minus HTTP: one
   transaction (``storage.session.transaction``) with the event broker
   attached, ``ingest.service.ingest_batch`` (station lookup, signature,
   envelope and records, accounting and rollups, sequence state, forwarding
   queue, the alarm engine's ``after_batch``), commit; every answer is checked
   (``acked_seq`` = the batch's last seq, nothing rejected, no duplicate, no
   gap, no command), and at the end ``records`` holds every record sent and no
   alarm was raised;

and prints the CPU of this process per batch (``time.process_time``: the
database server's own CPU is not in it; on SQLite everything is), the wall
time per batch, batches/s (one thread), the round trips to the database per batch
(``RoundTrips``), and the split (CPU, wall and round trips): station lookup +
signature, parse (envelope + records), ingest (accounting, SQL), alarm engine,
commit; and, for comparison, the CPU of one round of the timed rules
(``alarms.engine.tick``, run every 10 s by the background jobs) over the same
mines. ``--profile`` runs the timed rounds under cProfile (CPU time) instead and prints
the functions with the most time (``--profile-out FILE`` keeps the stats).
``--instructions`` runs it again under valgrind's callgrind and prints the instructions a
batch of the timed rounds (this process, all its threads): the same count from one run to
the next whatever the machine's load, where its CPU seconds swing by a third.

``--readings N`` puts N totalizer readings per belt in each batch, evenly spread over its
10 s (``--readings 166``: batches of 499 records, what a station sends after an outage or
the batches of ``ingest_throughput.py``); the 3 ms target is for the batches of 4.

``--cold`` forgets the process's cached facts (``storage.facts``) before each timed round:
each mine's batch of the round finds them as a process's first batch of the mine does (in a
province's first minute, or after a change of a fact), and the difference with a run
without it is what reading them costs.

``--history-days N`` loads N days of daily rollups (1 t a point and day) for every point
before the run, and the running totals from them: what a month's and a year's figures
stand on after months of production (without it every total is a few batches old).

Run: ``.venv/bin/python bench/batch_cost.py [--backend sqlite|postgresql|both]
[--mines 200] [--rounds 5] [--profile] [--group N] [--history-days N] [--readings N]
[--cold] [--instructions]``: with
``--group N`` the timed batches go N at a time through the committer's one-transaction
function (``ingest.committer.ingest_group``: one commit, a savepoint a batch only when one
fails once admitted), and
only the per-batch line is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import event, func, insert, select

from coalwatch.alarms import engine as alarm_engine
from coalwatch.alarms.models import Alarm
from coalwatch.auth.service import create_token
from coalwatch.config import Settings
from coalwatch.events.broker import attach
from coalwatch.ingest import repository as ingest_repository
from coalwatch.ingest import service
from coalwatch.ingest.committer import Upload, ingest_group
from coalwatch.jobs.scheduler import run_once
from coalwatch.production import repository as production_repository
from coalwatch.storage import facts
from coalwatch.storage.models import DailyProduction, Point, Record
from coalwatch.storage.session import transaction
from coalwatch.web.app import create_app, settle_heap
from coalwatch.wire.batches import BatchAnswer, encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign

from _common import (
    Instructions,
    accept_all,
    backends,
    fresh_database,
    instructions,
    machine,
    targets,
    under_callgrind,
)

CAPACITY_T = 30_000_000
BELTS = ("B1", "B2", "B3")
SKIPS = ("K1",)
TICK = timedelta(seconds=10)
LOCAL = ZoneInfo("Asia/Shanghai")
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
PARTS = ("lookup+signature", "parse", "ingest", "alarm engine", "commit")


class BenchError(Exception):
    """The benchmark could not produce a valid figure; the message says why."""


@dataclass
class SimStation:
    mine: str
    code: str
    key: Any
    total_kg: dict[str, int]
    seq: int = 0
    #: totalizer readings per belt in a round, evenly spread over its 10 s
    readings: int = 1

    def batch(self, at: datetime, rng: random.Random) -> tuple[bytes, str, int]:
        """One round's records (``readings`` readings per belt, a trip per skip), encoded
        and signed."""
        records: list[dict[str, Any]] = []
        step = TICK / self.readings
        for n in range(self.readings):
            ts = (at - (self.readings - 1 - n) * step).astimezone(LOCAL)
            for belt in BELTS:
                flow = Decimal(rng.randrange(1500, 4500)).scaleb(-1)
                self.total_kg[belt] += round(flow * 1000 * Decimal(step.total_seconds()) / 3600)
                self.seq += 1
                records.append(
                    {
                        "seq": self.seq,
                        "ts": ts,
                        "type": "totalizer",
                        "point": belt,
                        "total_t": Decimal(self.total_kg[belt]).scaleb(-3),
                        "flow_tph": flow,
                    }
                )
        ts = at.astimezone(LOCAL)
        for skip in SKIPS:
            self.seq += 1
            records.append(
                {
                    "seq": self.seq,
                    "ts": ts,
                    "type": "trip",
                    "point": skip,
                    "net_t": Decimal(rng.randrange(2000, 4000)).scaleb(-3),
                }
            )
        body = encode_batch(self.code, at, records)
        return body, sign(self.key, body), self.seq


class RoundTrips:
    """Round trips to the database, counted by engine events: every statement SQLAlchemy
    sends, every commit, the pool's liveness ping at checkout (PostgreSQL engines with
    time limits), and on PostgreSQL the implicit BEGIN of each transaction and the COPY of
    the records (sent on the driver's own cursor)."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        self.postgres = engine.dialect.name == "postgresql"

        def one(*_args: Any) -> None:
            self.count += 1

        event.listen(engine, "before_cursor_execute", one)
        event.listen(engine, "commit", one)
        if self.postgres:
            event.listen(engine, "begin", one)  # psycopg sends BEGIN before the first statement
            event.listen(engine, "checkout", one)  # the pessimistic ping (SELECT 1)
            original = ingest_repository.insert_records

            def copy(session: Any, rows: list[dict[str, Any]]) -> None:
                if rows:
                    self.count += 1
                original(session, rows)

            ingest_repository.insert_records = copy  # type: ignore[assignment]


class Split:
    """CPU and wall time (and round trips) per part of a batch, by wrapping the functions
    that do them."""

    def __init__(self, trips: RoundTrips | None = None) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.trips: dict[str, int] = defaultdict(int)
        self._counter = trips
        self._saved: list[tuple[Any, str, Any]] = []

    def _count(self) -> int:
        return self._counter.count if self._counter is not None else 0

    def wrap(self, owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            c, w, n = time.process_time(), time.perf_counter(), self._count()
            try:
                return original(*args, **kwargs)
            finally:
                self.cpu[part] += time.process_time() - c
                self.wall[part] += time.perf_counter() - w
                self.trips[part] += self._count() - n

        self._saved.append((owner, name, original))
        setattr(owner, name, timed)

    @contextmanager
    def part(self, part: str) -> Iterator[None]:
        c, w, n = time.process_time(), time.perf_counter(), self._count()
        try:
            yield
        finally:
            self.cpu[part] += time.process_time() - c
            self.wall[part] += time.perf_counter() - w
            self.trips[part] += self._count() - n

    def restore(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


def configure(client: TestClient, token: str, mines: int, readings: int = 1) -> list[SimStation]:
    headers = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, Any]) -> None:
        answer = client.post(f"/api/v1{path}", json=body, headers=headers)
        if answer.status_code >= 300:
            raise BenchError(f"POST {path}: {answer.status_code} {answer.text}")

    post("/orgs", {"code": "PROV", "name": "负荷 县", "kind": "county"})
    rng = random.Random(7)
    stations = []
    for index in range(mines):
        mine, code = f"LM{index:04d}", f"LS{index:04d}"
        post(
            "/mines",
            {"code": mine, "name": f"{mine} 矿", "org": "PROV", "annual_capacity_t": CAPACITY_T},
        )
        for belt in BELTS:
            post(f"/mines/{mine}/points", {"code": belt, "name": f"{belt} 皮带秤", "kind": "belt"})
        for skip in SKIPS:
            post(f"/mines/{mine}/points", {"code": skip, "name": f"{skip} 箕斗", "kind": "skip"})
        key = generate_private_key()
        post(f"/mines/{mine}/stations", {"code": code, "public_key": public_key_b64(key)})
        totals = {b: rng.randrange(10_000_000, 90_000_000) for b in BELTS}
        stations.append(SimStation(mine, code, key, totals, readings=readings))
    return stations


def load_history(sessions: Any, days: int) -> int:
    """``days`` days before START's (local) of daily rollups for every point, 1 t a point
    and day (far below any capacity: no alarm), loaded beside ``add_to_rollups``, and the
    running totals summed from them: the year a batch's checks add to."""
    today = START.astimezone(LOCAL).date()
    with transaction(sessions) as session:
        points = session.execute(select(Point.mine_id, Point.id)).all()
        rows = [
            {
                "mine_id": mine_id,
                "point_id": point_id,
                "local_day": today - timedelta(days=back),
                "measured_kg": 1_000,
                "manual_kg": 0,
            }
            for mine_id, point_id in points
            for back in range(1, days + 1)
        ]
        for first in range(0, len(rows), 10_000):
            session.execute(insert(DailyProduction), rows[first : first + 10_000])
        production_repository.recompute_totals(session, None)
    return len(rows)


def check(answer: BatchAnswer, last_seq: int, code: str) -> None:
    if (
        answer.acked_seq != last_seq
        or answer.duplicates
        or answer.rejected
        or answer.gaps
        or answer.commands
    ):
        raise BenchError(f"station {code}: unexpected answer {answer.model_dump()}")


def run_backend(
    backend: str,
    mines: int,
    rounds: int,
    profile: cProfile.Profile | Instructions | None,
    group: int = 0,
    history: int = 0,
    cold: bool = False,
    readings: int = 1,
) -> None:
    with fresh_database(backend, "batch_cost") as db:
        settings = Settings(
            database_url=db.url, timezone="Asia/Shanghai", jobs=False, secret_key="bench-key"
        )
        clock_now = [START]
        app = create_app(settings, clock=lambda: clock_now[0])
        with TestClient(app) as client:
            state = app.state.coalwatch
            with transaction(state.sessions) as session:
                token = create_token(session, "bench", None, True, START)
            began = time.perf_counter()
            stations = configure(client, token, mines, readings)
            accept_all(db.url)  # as in service: no mine's first production is unaccepted
            history_rows = load_history(state.sessions, history) if history else 0
            setup_s = time.perf_counter() - began
            settle_heap()  # as serve does once it is built
            limits = service.IngestLimits.of(settings)
            rng = random.Random(11)
            trips = RoundTrips(state.sessions.kw["bind"])
            split = Split(trips)
            returned: list[tuple[float, float, int]] = []

            def send(st: SimStation, at: datetime) -> None:
                body, signature, last_seq = st.batch(at, rng)
                now = at + timedelta(milliseconds=300)
                with split.part("batch"), state.sessions() as session:
                    with session.begin():
                        attach(session, state.broker)
                        answer = service.ingest_batch(
                            session, st.code, body, signature, now, limits
                        )
                    # the commit: what the block's end did after ingest_batch returned
                    if returned:
                        c, w, n = returned.pop()
                        split.cpu["commit"] += time.process_time() - c
                        split.wall["commit"] += time.perf_counter() - w
                        split.trips["commit"] += trips.count - n
                check(answer, last_seq, st.code)

            def send_group(members: list[SimStation], at: datetime) -> None:
                made = [st.batch(at, rng) for st in members]
                uploads = [
                    Upload(st.code, body, signature, limits)
                    for st, (body, signature, _) in zip(members, made, strict=True)
                ]
                now = at + timedelta(milliseconds=300)
                with split.part("batch"):
                    outcomes = ingest_group(state.sessions, state.broker, uploads, lambda: now)
                for st, (_, _, last_seq), outcome in zip(members, made, outcomes, strict=True):
                    if not isinstance(outcome, BatchAnswer):
                        raise BenchError(f"station {st.code}: {outcome!r}")
                    check(outcome, last_seq, st.code)

            for st in stations:  # warm-up: the first readings are baselines
                send(st, START)
            split = Split(trips)
            wrappers: list[tuple[Any, str, str]] = [
                # the station's row (with its mine and org since they are read together)
                (
                    ingest_repository,
                    "station_for_batch"
                    if hasattr(ingest_repository, "station_for_batch")
                    else "station_for_update",
                    "lookup+signature",
                ),
                (service, "verify", "lookup+signature"),
                (service, "parse_public_key", "lookup+signature"),
                (service, "_envelope", "parse"),
                (service, "_validate", "parse"),
                (alarm_engine, "after_batch", "alarm engine"),
                (service, "ingest_batch", "ingest_batch"),
            ]
            original_ingest = service.ingest_batch
            if profile is None and not group:
                for owner, name, part in wrappers:
                    split.wrap(owner, name, part)
                # commit: from ingest_batch's return to the end of the transaction block

                timed_ingest = service.ingest_batch  # the wrapped one: its time is a part

                def ingest_then_commit(*args: Any, **kwargs: Any) -> BatchAnswer:
                    answer = timed_ingest(*args, **kwargs)
                    returned.append((time.process_time(), time.perf_counter(), trips.count))
                    return answer

                service.ingest_batch = ingest_then_commit  # type: ignore[assignment]
            batches = 0
            try:
                if profile is not None:
                    profile.enable()
                for round_ in range(1, rounds + 1):
                    at = START + round_ * TICK
                    if cold:
                        facts.invalidate()
                    if group:
                        for first in range(0, len(stations), group):
                            send_group(stations[first : first + group], at)
                    else:
                        for st in stations:
                            send(st, at)
                    batches += len(stations)
            finally:
                if profile is not None:
                    profile.disable()
                service.ingest_batch = original_ingest  # type: ignore[assignment]
                split.restore()
            # one round of the timed rules (what the background jobs run every 10 s), for
            # comparison: its cost grows with the mines, not with the batches
            tick_cpu, tick_wall = time.process_time(), time.perf_counter()
            with transaction(state.sessions) as session:
                attach(session, state.broker)
                alarm_engine.tick(session, START + (rounds + 1) * TICK)
            tick_cpu = time.process_time() - tick_cpu
            tick_wall = time.perf_counter() - tick_wall
            # a whole round of the jobs process: the timed rules and the rest of its round
            # (faults, people, routines, acceptance, permits, notices, deliveries, the
            # nightly reports), none of them due
            round_cpu = time.process_time()
            run_once(state.sessions, state.broker, START + (rounds + 2) * TICK)
            round_cpu = time.process_time() - round_cpu
            with state.sessions() as session:
                stored = session.scalar(select(func.count()).select_from(Record))
                alarms = session.scalar(select(func.count()).select_from(Alarm))
            expected = sum(st.seq for st in stations)
            if stored != expected:
                raise BenchError(f"records holds {stored} rows, {expected} were sent")
            if alarms:
                raise BenchError(f"{alarms} alarms raised; none expected")
        app.state.coalwatch.sessions.kw["bind"].dispose()

    print(
        f"\n{backend}: {mines} mines × {len(BELTS) + len(SKIPS)} points, "
        f"setup {setup_s:.0f} s, {batches} timed batches of "
        f"{len(BELTS) * readings + len(SKIPS)} records "
        f"({rounds} rounds); {stored} records stored, no alarm"
        + (f"; {history_rows:,} daily rollups of history" if history_rows else "")
    )
    print(
        f"  one round of the timed rules (engine.tick) over the {mines} mines: "
        f"{1000 * tick_cpu:.0f} ms CPU, {1000 * tick_wall:.0f} ms wall "
        f"({1000 * tick_cpu / mines:.2f} ms CPU a mine); a whole round of the jobs "
        f"(scheduler.run_once): {1000 * round_cpu:.0f} ms CPU "
        f"({1000 * round_cpu / mines:.2f} ms a mine)"
    )
    if profile is not None:
        return
    cpu, wall = split.cpu["batch"], split.wall["batch"]
    if group:
        print(
            f"  group commit, {group} batches a transaction: "
            f"per batch {1000 * cpu / batches:.2f} ms CPU (this process), "
            f"{1000 * wall / batches:.2f} ms wall; {batches / wall:.0f} batches/s (one thread), "
            f"{batches / cpu:.0f} batches/s of CPU; "
            f"{split.trips['batch'] / batches:.1f} round trips"
        )
        if readings == 1:
            _target(1000 * cpu / batches)
        return
    print(
        f"  per batch: {1000 * cpu / batches:.2f} ms CPU (this process), "
        f"{1000 * wall / batches:.2f} ms wall; "
        f"{batches / wall:.0f} batches/s (one thread), "
        f"{batches / cpu:.0f} batches/s of CPU; "
        f"{split.trips['batch'] / batches:.1f} round trips"
    )
    if readings == 1:
        _target(1000 * cpu / batches)
    inside = split.cpu["ingest_batch"] - sum(
        split.cpu[p] for p in ("lookup+signature", "parse", "alarm engine")
    )
    inside_wall = split.wall["ingest_batch"] - sum(
        split.wall[p] for p in ("lookup+signature", "parse", "alarm engine")
    )
    inside_trips = split.trips["ingest_batch"] - sum(
        split.trips[p] for p in ("lookup+signature", "parse", "alarm engine")
    )
    split.cpu["ingest"], split.wall["ingest"] = inside, inside_wall
    split.trips["ingest"] = inside_trips
    rest_cpu = cpu - split.cpu["ingest_batch"] - split.cpu["commit"]
    rest_wall = wall - split.wall["ingest_batch"] - split.wall["commit"]
    rest_trips = split.trips["batch"] - split.trips["ingest_batch"] - split.trips["commit"]
    print(f"  {'part':<18} {'CPU ms':>8} {'wall ms':>8} {'CPU %':>6} {'trips':>6}")
    for part, c, w, n in [
        *((p, split.cpu[p], split.wall[p], split.trips[p]) for p in PARTS),
        ("session, begin", rest_cpu, rest_wall, rest_trips),
    ]:
        share = 100 * c / cpu
        print(
            f"  {part:<18} {1000 * c / batches:8.2f} {1000 * w / batches:8.2f} {share:5.0f}%"
            f" {n / batches:6.1f}"
        )


def _target(cpu_ms: float) -> None:
    targets([("center CPU ≤ 3 ms per 4-record batch", f"{cpu_ms:.2f} ms", cpu_ms <= 3)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--mines", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed rounds")
    parser.add_argument("--profile-out", help="write the cProfile stats to this file")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--group",
        type=int,
        default=0,
        help="N batches a transaction through the committer's ingest_group (0: one each)",
    )
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="days of daily rollups before the run for every point (what a year's sum reads)",
    )
    parser.add_argument(
        "--readings",
        type=int,
        default=1,
        help="totalizer readings per belt in a batch (166: batches of 499 records)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="forget the cached facts before each timed round (each mine's first batch reads them)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the instructions of the timed rounds under valgrind's callgrind",
    )
    args = parser.parse_args(argv)
    if args.instructions and not under_callgrind():
        return _count_instructions(args, list(sys.argv[1:] if argv is None else argv))
    print(machine())
    for backend in backends(args.backend):
        profile: Any = None
        if args.instructions:
            profile = Instructions()
        elif args.profile or args.profile_out:
            profile = cProfile.Profile(time.process_time)
        try:
            run_backend(
                backend,
                args.mines,
                args.rounds,
                profile,
                args.group,
                args.history_days,
                args.cold,
                args.readings,
            )
        except BenchError as exc:
            print(f"{backend}: FAILED: {exc}", file=sys.stderr)
            return 1
        if isinstance(profile, cProfile.Profile):
            if args.profile_out:
                out = args.profile_out.replace(".prof", f".{backend}.prof")
                profile.dump_stats(out)
                print(f"  cProfile stats in {out}")
            for order in ("tottime", "cumulative"):
                text = io.StringIO()
                pstats.Stats(profile, stream=text).sort_stats(order).print_stats(args.top)
                print(f"  --- top {args.top} by {order} ---")
                print(_short(text.getvalue()))
    return 0


def _count_instructions(args: argparse.Namespace, argv: list[str]) -> int:
    """Each backend's run again under callgrind, and its instructions a batch."""
    print(machine())
    for backend in backends(args.backend):
        count = instructions(__file__, [*argv, "--backend", backend])
        batches = args.mines * args.rounds
        print(
            f"  {backend}: {count / batches / 1e6:.2f} million instructions a batch in this "
            f"process (callgrind, {batches} timed batches"
            + (f", {args.group} a transaction)" if args.group else ")")
        )
    return 0


def _short(report: str) -> str:
    """The pstats listing without the long site-packages prefixes."""
    marker: Callable[[str], str] = lambda line: line.replace(sys.prefix + "/lib/", "")  # noqa: E731
    return "\n".join(marker(line) for line in report.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
