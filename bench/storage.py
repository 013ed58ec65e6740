"""Raw storage on PostgreSQL: bytes per record, the indexes' plans, archiving a month.

On a fresh migrated PostgreSQL schema:

1. loads a province's stations (``--mines`` mines with one belt point and one station
   each, as ``month_table.py`` does) and one month (January 2026, UTC) of their raw
   records into that month's partition, by COPY: per station every 10 s a batch of 4
   records (two totalizer readings, a conveyor state, a heartbeat), until ``--records``;
2. prints the month partition's bytes per record: the table, each index, the total;
3. prints the plans of the statements that read records (what each index serves);
4. archives the month as the retention job does (detach, write the archive file with
   the month's rows, drop; coalwatch.partitions.service.archive_month) and prints the
   time, the file's size and its bytes per record.

Run: ``.venv/bin/python bench/storage.py [--mines 100] [--records 1000000] [--explain]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from coalwatch.partitions import service
from coalwatch.storage.partitioning import month_start, partition_name
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from month_table import Loader, loading

from _common import fresh_database, load, machine

MONTH = month_start(2026, 1)
EVERY = timedelta(seconds=10)
RECEIVED = "2026-02-01 00:00:05+00"


def load_month(loader: Loader, count: int) -> int:
    """``count`` records of MONTH over every station, 4 a batch every 10 s."""
    batches = max(1, count // (4 * loader.mines))
    loaded = 0
    with (
        loading(loader.engine) as connection,
        connection.cursor() as cursor,
        cursor.copy(
            "COPY records (mine_id, station_id, seq, ts, type, point_id, value_kg, "
            "increment_kg, increment_kind, flow_kgph, running, received_at, batch_id) "
            "FROM STDIN"
        ) as copy,
    ):
        for m in range(1, loader.mines + 1):
            total = 10_000_000
            lines = []
            for n in range(batches):
                at = MONTH + EVERY * n
                stamp = at.strftime("%Y-%m-%d %H:%M:%S+00")
                half = (at + EVERY / 2).strftime("%Y-%m-%d %H:%M:%S+00")
                seq = 4 * n
                batch = m * 1_000_000 + n
                for offset, ts in ((1, stamp), (2, half)):
                    total += 52
                    lines.append(
                        f"{m}\t{m}\t{seq + offset}\t{ts}\ttotalizer\t{m}\t{total}\t52\tnormal"
                        f"\t75000\t\\N\t{RECEIVED}\t{batch}\n"
                    )
                lines.append(
                    f"{m}\t{m}\t{seq + 3}\t{half}\tconveyor\t{m}\t\\N\t\\N\t\\N\t\\N\tt"
                    f"\t{RECEIVED}\t{batch}\n"
                )
                lines.append(
                    f"{m}\t{m}\t{seq + 4}\t{half}\theartbeat\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N"
                    f"\t{RECEIVED}\t{batch}\n"
                )
                loaded += 4
            copy.write("".join(lines))
    return loaded


def sizes(engine: object, name: str, rows: int) -> None:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        heap = connection.scalar(text(f"SELECT pg_table_size('{name}')"))
        indexes = connection.execute(
            text(
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                f"WHERE i.indrelid = '{name}'::regclass ORDER BY c.relname"
            )
        ).all()
    total = heap + sum(size for _, size in indexes)
    print(f"  {rows:,} records in {name}: {total / rows:.1f} bytes a record in all")
    print(f"    table            {heap / rows:7.1f} bytes a record ({100 * heap / total:.0f} %)")
    for index, size in indexes:
        print(f"    {index:<40} {size / rows:7.1f} ({100 * size / total:.0f} %)")


#: the statements that read records, as the services issue them (one point, one mine,
#: a window of an hour inside the month)
PLANS = {
    "carried / measured_between (alarms, mines): point + time": (
        "SELECT coalesce(sum(increment_kg), 0) FROM records "
        "WHERE point_id = 7 AND ts > :a AND ts <= :b"
    ),
    "latest conveyor states (alarm rules, monitor): point + type + time": (
        "SELECT ts, seq, running FROM records WHERE point_id = 7 AND type = 'conveyor' "
        "AND ts <= :b ORDER BY ts DESC, seq DESC LIMIT 3"
    ),
    "totalizer neighbours (ingest): mine + station + seq": (
        "SELECT id FROM records WHERE mine_id = 7 AND point_id = 7 AND type = 'totalizer' "
        "AND (station_id < 7 OR (station_id = 7 AND seq < 1000)) "
        "ORDER BY station_id DESC, seq DESC LIMIT 1"
    ),
    "a mine's records page (records, monitor): mine + time": (
        "SELECT id FROM records WHERE mine_id = 7 AND ts >= :a AND ts < :b "
        "ORDER BY ts DESC, seq DESC LIMIT 50"
    ),
    "partial hour (production): mine + time": (
        "SELECT coalesce(sum(increment_kg), 0) FROM records WHERE mine_id = 7 "
        "AND ts >= :a AND ts <= :b AND increment_kg IS NOT NULL"
    ),
    "increment update by id (ingest)": "SELECT id FROM records WHERE id = 12345",
}


def explain(engine: object) -> None:
    a = MONTH + timedelta(days=3)
    b = a + timedelta(hours=1)
    with engine.connect() as connection:  # type: ignore[attr-defined]
        for label, statement in PLANS.items():
            print(f"  -- {label}")
            plan = connection.execute(
                text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement),
                {"a": a, "b": b},
            ).scalars()
            for line in plan:
                print(f"       {line if len(line) <= 110 else line[:107] + '...'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mines", type=int, default=100)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true", help="print the plans")
    args = parser.parse_args(argv)
    print(machine())
    with fresh_database("postgresql", "storage") as db:
        engine = make_engine(db.url)
        sessions = make_sessionmaker(engine)
        loader = Loader(engine, args.mines)
        loader.setup()
        with transaction(sessions) as session:
            service.ensure_month(session, "records", MONTH)
        started = time.perf_counter()
        rows = load_month(loader, args.records)
        took = time.perf_counter() - started
        print(f"  loaded {rows:,} records by COPY in {took:.1f} s ({rows / took:,.0f} a second)")
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE records"
            )
        sizes(engine, partition_name("records", MONTH), rows)
        if args.explain:
            explain(engine)
        with tempfile.TemporaryDirectory(prefix="coalwatch-archive-") as directory:
            policy = service.Policy(Path(directory), timedelta(days=730), 2)
            started = time.perf_counter()
            archived = service.archive_month(
                sessions, policy, "records", MONTH, "bench", datetime(2028, 3, 1, tzinfo=UTC)
            )
            took = time.perf_counter() - started
            if archived.rows != rows:
                print(f"archived {archived.rows} rows of {rows}", file=sys.stderr)
                return 1
            print(
                f"  archive and drop of the month: {took:.1f} s ({rows / took:,.0f} records a "
                f"second); the file: {archived.size_bytes / 1048576:,.1f} MB, "
                f"{archived.size_bytes / rows:.1f} bytes a record"
            )
        engine.dispose()
    print(f"  {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
