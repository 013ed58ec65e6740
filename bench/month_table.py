"""Month table: a province's production table for one month, from a year of hourly rollups.

For each backend, on a fresh migrated database:

1. loads a province of 1,000 mines (10 cities × 10 counties × 10 mines), each
   with a capacity, one belt point, one station, two half-year deduction
   coefficients (rows in ``coefficients`` and ``coefficient_spans``) and a plan
   for every month; direct Core inserts through the models;
2. loads a year (2025, Asia/Shanghai) of hourly rollups for every mine into
   ``hourly_production`` and the matching ``daily_production`` (each day the sum
   of its 24 hours): COPY on PostgreSQL, executemany on SQLite; the running totals
   of the months and years summed from them (``recompute_totals``); ANALYZE; then
   settles this process's heap as ``serve`` does once it is built
   (``web.app.settle_heap``: one collection, then ``gc.freeze``), so that the
   garbage collector does not scan what was loaded, which a server does not hold;
3. checks the service's totals against the loaded figures, then times
   ``production.service.org_production`` for the province, period MONTH, one
   month (June 2025), 20 times, each in its own session and transaction (what
   one API request does), and prints median and p95 in ms; then again with the
   process's cached facts (yardsticks, the province's mines) forgotten before each
   call: what the first call after a change of one of them costs;
4. adds a few million raw ``records`` rows in that month (COPY / executemany),
   ANALYZE again, times the same call again, and prints the statements the call
   issues with their plans (PostgreSQL: EXPLAIN ANALYZE), none of which reads
   ``records``.

Run: ``.venv/bin/python bench/month_table.py [--backend sqlite|postgresql|both]
[--mines 1000] [--extra-records 2000000]``.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, insert

from coalwatch.auth.principal import OPERATOR
from coalwatch.domain.coefficients import FULL_HUNDREDTHS
from coalwatch.domain.periods import Period
from coalwatch.domain.units import RAW_UNITS_PER_T, round_tonnes
from coalwatch.production import repository as production_repository
from coalwatch.production import service
from coalwatch.storage import facts
from coalwatch.storage.models import (
    Capacity,
    Coefficient,
    CoefficientSpan,
    HourlyProduction,
    Mine,
    Org,
    Plan,
    Point,
    Record,
    Station,
)
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.web.app import settle_heap

from _common import backends, fresh_database, load, machine, median, percentile, targets

TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2025
MONTH = (date(YEAR, 6, 1), date(YEAR, 7, 1))
CITIES, COUNTIES_PER_CITY = 10, 10
REPEAT, WARM_UP = 20, 2
NOW = datetime(YEAR + 1, 1, 15, 4, 0, tzinfo=UTC)
PROVINCE = "P00"
RECORDS_BATCH = 50_000


class BenchError(Exception):
    """The benchmark could not produce a valid figure; the message says why."""


def hour_profile(rng: random.Random) -> list[int]:
    """Kilograms per hour of the year for a typical mine: shifts, days off, noise."""
    hours = []
    for hour in range((date(YEAR + 1, 1, 1) - date(YEAR, 1, 1)).days * 24):
        day, clock = divmod(hour, 24)
        base = 420_000 if 8 <= clock < 16 else 360_000 if 16 <= clock < 24 else 300_000
        if day % 7 == 6:
            base //= 3
        hours.append(max(1, base + rng.randrange(-120_000, 120_001)))
    return hours


class Loader:
    """Everything one backend needs loaded, with the figures to check the service against."""

    def __init__(self, engine: Engine, mines: int) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self.mines = mines
        self.profile = hour_profile(random.Random(2025))
        first = datetime(YEAR, 1, 1, tzinfo=TZ)
        self.hours = [
            (first + timedelta(hours=h)).astimezone(UTC) for h in range(len(self.profile))
        ]
        self.local_days = [h.astimezone(TZ).date() for h in self.hours]
        #: gross kg and raw units in MONTH, over every mine: what the service must show
        self.month_gross = 0
        self.month_raw = 0

    def mine_hours(self, mine: int) -> list[int]:
        offset = (mine * 97) % len(self.profile)
        scale = 60 + mine % 80  # percent: mines of different sizes
        rotated = self.profile[offset:] + self.profile[:offset]
        return [kg * scale // 100 for kg in rotated]

    @staticmethod
    def coefficient(mine: int, day: date) -> int:
        return (250 + mine % 300) if day.month <= 6 else (300 + mine % 250)

    def setup(self) -> None:
        """Orgs, mines, capacities, points, stations, coefficients and plans."""
        created = NOW - timedelta(days=400)
        orgs: list[dict[str, Any]] = [
            {"id": 1, "code": PROVINCE, "name": "省", "kind": "province", "parent_id": None}
        ]
        orgs[0]["path"] = "/1/"
        counties = []
        for c in range(CITIES):
            city_id = 2 + c
            orgs.append(
                {
                    "id": city_id,
                    "code": f"C{c:02d}",
                    "name": f"市 {c}",
                    "kind": "city",
                    "parent_id": 1,
                    "path": f"/1/{city_id}/",
                }
            )
        for c in range(CITIES):
            for k in range(COUNTIES_PER_CITY):
                county_id = 2 + CITIES + c * COUNTIES_PER_CITY + k
                counties.append(county_id)
                orgs.append(
                    {
                        "id": county_id,
                        "code": f"K{c:02d}{k:02d}",
                        "name": f"县 {c}-{k}",
                        "kind": "county",
                        "parent_id": 2 + c,
                        "path": f"/1/{2 + c}/{county_id}/",
                    }
                )
        for org in orgs:
            org["created_at"] = created
        ids = range(1, self.mines + 1)
        mines = [
            {
                "id": m,
                "code": f"M{m:04d}",
                "name": f"矿 {m}",
                "org_id": counties[(m - 1) % len(counties)],
                "timezone": "Asia/Shanghai",
                "created_at": created,
            }
            for m in ids
        ]
        halves = [(date(YEAR, 1, 1), date(YEAR, 6, 30)), (date(YEAR, 7, 1), date(YEAR, 12, 31))]
        coefficients = []
        spans = []
        for m in ids:
            for half, (start, end) in enumerate(halves):
                cid = 2 * (m - 1) + half + 1
                hundredths = self.coefficient(m, start)
                coefficients.append(
                    {
                        "id": cid,
                        "mine_id": m,
                        "hundredths": hundredths,
                        "effective_from": start,
                        "effective_to": end,
                        "created_at": created,
                    }
                )
                spans.append(
                    {
                        "mine_id": m,
                        "coefficient_id": cid,
                        "hundredths": hundredths,
                        "day_from": start,
                        "day_to": end,
                    }
                )
        with self.engine.begin() as connection:
            connection.execute(insert(Org.__table__), orgs)
            connection.execute(insert(Mine.__table__), mines)
            connection.execute(
                insert(Capacity.__table__),
                [
                    {
                        "mine_id": m,
                        "annual_kg": (900_000 + 10_000 * (m % 200)) * 1000,
                        "effective_from": date(2020, 1, 1),
                        "created_at": created,
                    }
                    for m in ids
                ],
            )
            connection.execute(
                insert(Point.__table__),
                [
                    {
                        "id": m,
                        "mine_id": m,
                        "code": "B1",
                        "name": "主井皮带秤",
                        "kind": "belt",
                        "created_at": created,
                    }
                    for m in ids
                ],
            )
            connection.execute(
                insert(Station.__table__),
                [
                    {
                        "id": m,
                        "mine_id": m,
                        "code": f"S{m:04d}",
                        "public_key": "A" * 43 + "=",
                        "max_seq": 0,
                        "created_at": created,
                    }
                    for m in ids
                ],
            )
            connection.execute(insert(Coefficient.__table__), coefficients)
            connection.execute(insert(CoefficientSpan.__table__), spans)
            connection.execute(
                insert(Plan.__table__),
                [
                    {
                        "mine_id": m,
                        "month": date(YEAR, month, 1),
                        "month_kg": 80_000_000 + 100_000 * (m % 100),
                        "day_kg": None,
                        "hour_kg": None,
                        "updated_at": created,
                    }
                    for m in ids
                    for month in range(1, 13)
                ],
            )

    def rollups(self) -> Iterator[tuple[int, list[int], list[tuple[date, int]]]]:
        """Per mine: its hourly kg, and its days with their sums (24 hours each)."""
        for mine in range(1, self.mines + 1):
            hours = self.mine_hours(mine)
            days = [(self.local_days[h], sum(hours[h : h + 24])) for h in range(0, len(hours), 24)]
            for day, kg in days:
                if MONTH[0] <= day < MONTH[1]:
                    self.month_gross += kg
                    self.month_raw += kg * (FULL_HUNDREDTHS - self.coefficient(mine, day))
            yield mine, hours, days

    def load_rollups(self) -> int:
        rows = self._copy_rollups() if self.backend == "postgresql" else self._executemany_rollups()
        # loaded beside ``add_to_rollups``: the running totals of the months and years
        # are summed from the daily rollups, as the migration that made them did
        with transaction(make_sessionmaker(self.engine)) as session:
            production_repository.recompute_totals(session, None)
        return rows

    def _copy_rollups(self) -> int:
        hour_text = [h.strftime("%Y-%m-%d %H:%M:%S+00") for h in self.hours]
        day_text = [d.isoformat() for d in self.local_days]
        rows = 0
        daily: list[str] = []
        with loading(self.engine) as connection, connection.cursor() as cursor:
            with cursor.copy(
                "COPY hourly_production (mine_id, point_id, hour_start, local_day, "
                "measured_kg, manual_kg) FROM STDIN"
            ) as copy:
                for mine, hours, days in self.rollups():
                    prefix = f"{mine}\t{mine}\t"
                    copy.write(
                        "".join(
                            f"{prefix}{h}\t{d}\t{kg}\t0\n"
                            for h, d, kg in zip(hour_text, day_text, hours, strict=True)
                        )
                    )
                    daily.extend(f"{prefix}{d.isoformat()}\t{kg}\t0\n" for d, kg in days)
                    rows += len(hours)
            with cursor.copy(
                "COPY daily_production (mine_id, point_id, local_day, measured_kg, manual_kg) "
                "FROM STDIN"
            ) as copy:
                copy.write("".join(daily))
        return rows

    def _executemany_rollups(self) -> int:
        hour_bind = _binder(self.engine, HourlyProduction, "hour_start")
        day_bind = _binder(self.engine, HourlyProduction, "local_day")
        hour_text = [hour_bind(h) for h in self.hours]
        day_text = {d: day_bind(d) for d in self.local_days}
        rows = 0
        with loading(self.engine) as connection:
            for mine, hours, days in self.rollups():
                connection.executemany(
                    "INSERT INTO hourly_production (mine_id, point_id, hour_start, local_day, "
                    "measured_kg, manual_kg) VALUES (?, ?, ?, ?, ?, 0)",
                    [
                        (mine, mine, h, day_text[d], kg)
                        for h, d, kg in zip(hour_text, self.local_days, hours, strict=True)
                    ],
                )
                connection.executemany(
                    "INSERT INTO daily_production (mine_id, point_id, local_day, measured_kg, "
                    "manual_kg) VALUES (?, ?, ?, ?, 0)",
                    [(mine, mine, day_text[d], kg) for d, kg in days],
                )
                rows += len(hours)
        return rows

    def load_records(self, count: int) -> int:
        """``count`` raw totalizer records in MONTH, spread over every mine."""
        per_mine = max(1, count // self.mines)
        first, end = (t.astimezone(UTC) for t in month_bounds())
        step = (end - first) / per_mine
        stamps = [first + step * i for i in range(per_mine)]
        if self.backend == "postgresql":
            stamp_text = [s.strftime("%Y-%m-%d %H:%M:%S.%f+00") for s in stamps]
            tail = f"\t104\tnormal\t75000\t{NOW.strftime('%Y-%m-%d %H:%M:%S+00')}\n"
            columns = (
                "mine_id, station_id, seq, ts, type, point_id, value_kg, increment_kg, "
                "increment_kind, flow_kgph, received_at"
            )
            with (
                loading(self.engine) as connection,
                connection.cursor() as cursor,
                cursor.copy(f"COPY records ({columns}) FROM STDIN") as copy,
            ):
                for m in range(1, self.mines + 1):
                    copy.write(
                        "".join(
                            f"{m}\t{m}\t{i + 1}\t{s}\ttotalizer\t{m}\t{10_000_000 + 104 * i}" + tail
                            for i, s in enumerate(stamp_text)
                        )
                    )
            return per_mine * self.mines
        bind_ts = _binder(self.engine, Record, "ts")
        stamp_text = [bind_ts(s) for s in stamps]
        received = bind_ts(NOW)
        with loading(self.engine) as connection:
            for m in range(1, self.mines + 1):
                connection.executemany(
                    "INSERT INTO records (mine_id, station_id, seq, ts, type, point_id, value_kg, "
                    "increment_kg, increment_kind, flow_kgph, received_at) "
                    "VALUES (?, ?, ?, ?, 'totalizer', ?, ?, 104, 'normal', 75000, ?)",
                    [
                        (m, m, i + 1, s, m, 10_000_000 + 104 * i, received)
                        for i, s in enumerate(stamp_text)
                    ],
                )
        return per_mine * self.mines

    def analyze(self) -> None:
        with self.engine.connect() as connection:
            if self.backend == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE"
                )
            else:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()


@contextmanager
def loading(engine: Engine) -> Iterator[Any]:
    """A driver connection for bulk loads, with foreign-key checks off.

    The rows are consistent by construction; checking them row by row would
    make PostgreSQL's COPY about five times slower. Only this connection is
    affected, and the setting is restored before it returns to the pool.
    """
    raw = engine.raw_connection()
    connection: Any = raw.driver_connection
    try:
        if engine.dialect.name == "postgresql":
            connection.execute("SET session_replication_role = replica")
            yield connection
            connection.commit()
            connection.execute("RESET session_replication_role")
            connection.commit()
        else:
            connection.execute("PRAGMA foreign_keys = OFF")
            connection.execute("BEGIN")
            yield connection
            connection.execute("COMMIT")
            connection.execute("PRAGMA foreign_keys = ON")
    finally:
        raw.close()


def _binder(engine: Engine, model: Any, column: str) -> Callable[[Any], Any]:
    """The value the application's column type binds (SQLite compares these as text)."""
    processor = model.__table__.c[column].type.bind_processor(engine.dialect)
    return processor if processor is not None else (lambda value: value)


def month_bounds() -> tuple[datetime, datetime]:
    start = datetime.combine(MONTH[0], datetime.min.time(), TZ)
    end = datetime.combine(MONTH[1], datetime.min.time(), TZ)
    return start, end


def table_once(engine: Engine) -> Any:
    start, end = month_bounds()
    with transaction(make_sessionmaker(engine)) as session:
        return service.org_production(
            session, OPERATOR, PROVINCE, Period.MONTH, start, end, NOW, TZ
        )


def time_table(engine: Engine, *, cold: bool = False) -> tuple[list[float], list[float]]:
    """Milliseconds per call, each in its own session and transaction: wall time, and
    the CPU time of this process (the Python side; a busy machine inflates it less).
    ``cold``: every call after the process's cached facts are forgotten, as the first
    call after a change of a yardstick, a mine or an org is."""
    sessions = make_sessionmaker(engine)
    start, end = month_bounds()
    timings, cpu = [], []
    for attempt in range(WARM_UP + REPEAT):
        if cold:
            facts.invalidate()
        began, began_cpu = time.perf_counter(), time.process_time()
        with transaction(sessions) as session:
            service.org_production(session, OPERATOR, PROVINCE, Period.MONTH, start, end, NOW, TZ)
        if attempt >= WARM_UP:
            timings.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
    return timings, cpu


def statements_alone(engine: Engine, *, cold: bool = False) -> float:
    """Median ms of the call's statements run bare on the driver, all rows fetched:
    the database's share of the call (the rest is Python); ``cold``: those of a call
    after the facts kept are forgotten."""
    if cold:
        facts.invalidate()
    with captured(engine) as statements:
        table_once(engine)
    selects = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    totals = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for _ in range(REPEAT):
            began = time.perf_counter()
            for statement, parameters in selects:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            totals.append((time.perf_counter() - began) * 1000)
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return median(totals)


def check_table(engine: Engine, loader: Loader) -> None:
    table = table_once(engine)
    if len(table.mines) != loader.mines or len(table.items) != 1:
        raise BenchError(f"{len(table.mines)} mines, {len(table.items)} periods in the table")
    gross_kg = int(table.items[0].gross_t * 1000)
    raw_t = table.items[0].raw_t
    expected_raw_t = round_tonnes(Fraction(loader.month_raw, RAW_UNITS_PER_T))
    if gross_kg != loader.month_gross or raw_t != expected_raw_t:
        raise BenchError(
            f"table says gross {gross_kg} kg, raw {raw_t} t; loaded {loader.month_gross} kg, "
            f"{expected_raw_t} t"
        )
    print(
        f"  checked: province total for {MONTH[0]:%Y-%m} = {table.items[0].gross_t} t gross, "
        f"{raw_t} t raw, {len(table.mines)} mine rows (as loaded)"
    )


def report(label: str, timed: tuple[list[float], list[float]], sql_ms: float) -> float:
    timings, cpu = timed
    middle = median(timings)
    print(
        f"  {label}: median {middle:.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
        f"min {min(timings):.1f} ms ({len(timings)} calls); its SQL statements alone "
        f"{sql_ms:.1f} ms; CPU of this process median {median(cpu):.1f} ms, "
        f"min {min(cpu):.1f} ms"
    )
    return middle


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(engine: Engine) -> None:
    """The statements one call issues, and how the database runs each."""
    with captured(engine) as statements:
        table_once(engine)
    queries = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    touching = [s for s, _ in queries if re.search(r"\brecords\b", s)]
    print(
        f"  the call issues {len(queries)} SELECTs; reading records: "
        f"{'none' if not touching else len(touching)}"
    )
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
        if engine.dialect.name == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in queries:
            tables = sorted(set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", statement)))
            print(f"  -- SELECT from {', '.join(tables)}")
            cursor.execute(prefix + statement, parameters)
            for row in cursor.fetchall():
                line = row[0] if engine.dialect.name == "postgresql" else row[-1]
                print(f"       {line if len(line) <= 120 else line[:117] + '...'}")
        cursor.close()
        raw.rollback()
    finally:
        raw.close()


def run_backend(backend: str, mines: int, extra: int) -> dict[str, float]:
    with fresh_database(backend, "month") as db:
        print(f"\n== {backend} ({db.where})")
        engine = make_engine(db.url)
        try:
            loader = Loader(engine, mines)
            began = time.perf_counter()
            loader.setup()
            rows = loader.load_rollups()
            loader.analyze()
            print(
                f"  loaded {mines} mines, {rows:,} hourly and {rows // 24:,} daily rollup rows "
                f"({YEAR}) in {time.perf_counter() - began:.0f} s"
            )
            settle_heap()  # as serve does once it is built
            check_table(engine, loader)
            figures = {
                "before": report("month table", time_table(engine), statements_alone(engine))
            }
            report(
                "month table, each call after the facts kept are forgotten",
                time_table(engine, cold=True),
                statements_alone(engine, cold=True),
            )
            began = time.perf_counter()
            added = loader.load_records(extra)
            loader.analyze()
            print(
                f"  added {added:,} raw records in {MONTH[0]:%Y-%m} "
                f"in {time.perf_counter() - began:.0f} s"
            )
            figures["after"] = report(
                f"month table with {added:,} raw records",
                time_table(engine),
                statements_alone(engine),
            )
            explain(engine)
            return figures
        finally:
            engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--mines", type=int, default=1000, help="mines (default 1000)")
    parser.add_argument(
        "--extra-records",
        type=int,
        default=2_000_000,
        help="raw records added before the second timing (default 2000000)",
    )
    args = parser.parse_args(argv)
    print(f"month table, {machine()}")
    results = {}
    try:
        for backend in backends(args.backend):
            results[backend] = run_backend(backend, args.mines, args.extra_records)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"\nsummary (median ms of org_production for one month; {load()})")
    for backend, f in results.items():
        print(
            f"  {backend:<11} {args.mines} mines: {f['before']:6.1f} ms; "
            f"with {args.extra_records:,} more raw records: {f['after']:6.1f} ms"
        )
    if "postgresql" in results and args.mines >= 1000:
        before = results["postgresql"]["before"]
        targets(
            [
                (
                    f"month table for {args.mines} mines < 50 ms on PostgreSQL",
                    f"{before:.1f} ms",
                    before < 50,
                )
            ]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
