"""Verifying a province's year: what the hourly verification job costs.

On a fresh migrated PostgreSQL schema (the production database):

1. loads a province of 1,000 mines (one belt point and one station each) and a year
   (2025) of hourly and daily rollups, as ``month_table.py`` does;
2. gives every station a real Ed25519 key and loads the raw part of the last hour of
   the year: per station one signed upload every 10 s (360 an hour) of 4 records
   (two totalizer readings, a conveyor state, a heartbeat), kept in
   ``signed_batches`` with the records pointing to them, their production adding up
   to the hour's rollup;
3. times ``integrity.service.verify_figures`` incrementally (what the hourly job does
   after its checkpoint): every upload since the last checkpoint re-verified and its
   records compared, the hours they touched recomputed from the records, and every
   daily rollup of the year checked against its hours; prints the parts and the
   rates.

Run: ``.venv/bin/python bench/verify_year.py [--mines 1000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from coalwatch.integrity import repository
from coalwatch.integrity.service import verify_figures
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign
from month_table import TZ, YEAR, Loader, loading

from _common import fresh_database, load, machine

PER_UPLOAD = 4
EVERY = timedelta(seconds=10)


def load_raw_hour(loader: Loader) -> tuple[int, int]:
    """The year's last hour as signed uploads; returns (uploads, records)."""
    end = datetime(YEAR + 1, 1, 1, tzinfo=TZ).astimezone(UTC)
    start = end - timedelta(hours=1)
    uploads_per_station = int((end - start) / EVERY)
    received = end + timedelta(minutes=1)
    batch_id = record_id = 0
    with loading(loader.engine) as connection, connection.cursor() as cursor:
        keys = {}
        for mine in range(1, loader.mines + 1):
            key = generate_private_key()
            keys[mine] = key
            cursor.execute(
                "UPDATE stations SET public_key = %s WHERE id = %s", (public_key_b64(key), mine)
            )
        batches: list[tuple[Any, ...]] = []
        records: list[str] = []
        stamp = received.strftime("%Y-%m-%d %H:%M:%S+00")
        for mine in range(1, loader.mines + 1):
            # the hour's rollup, shared out over its readings (the last takes the rest)
            last_hour_kg = loader.mine_hours(mine)[-1]
            readings = uploads_per_station * 2
            share = last_hour_kg // readings
            total_kg = 10_000_000
            seq = 0
            for n in range(uploads_per_station):
                at = start + EVERY * n
                body_records = []
                rows = []
                for half in (0, 1):
                    seq += 1
                    increment = share
                    if n == uploads_per_station - 1 and half == 1:
                        increment = last_hour_kg - share * (readings - 1)
                    total_kg += increment
                    ts = at + timedelta(seconds=5 * half)
                    body_records.append(
                        {
                            "seq": seq,
                            "ts": ts,
                            "type": "totalizer",
                            "point": "B1",
                            "total_t": Decimal(total_kg).scaleb(-3),
                        }
                    )
                    rows.append((seq, ts, "totalizer", total_kg, increment, "normal", None))
                seq += 1
                body_records.append(
                    {"seq": seq, "ts": at, "type": "conveyor", "point": "B1", "running": True}
                )
                rows.append((seq, at, "conveyor", None, None, None, True))
                seq += 1
                body_records.append({"seq": seq, "ts": at, "type": "heartbeat"})
                rows.append((seq, at, "heartbeat", None, None, None, None))
                body = encode_batch(f"S{mine:04d}", at + timedelta(seconds=1), body_records)
                batch_id += 1
                batches.append((batch_id, mine, mine, body, sign(keys[mine], body), received))
                for seq_, ts, type_, value, inc, kind, running in rows:
                    record_id += 1
                    point = "\\N" if type_ == "heartbeat" else str(mine)
                    records.append(
                        f"{mine}\t{mine}\t{seq_}\t{ts.strftime('%Y-%m-%d %H:%M:%S+00')}\t"
                        f"{type_}\t{point}\t{_n(value)}\t{_n(inc)}\t{_n(kind)}\t"
                        f"{_n(running and 't')}\t{stamp}\t{batch_id}\n"
                    )
        with cursor.copy(
            "COPY signed_batches (id, mine_id, station_id, body, signature, received_at) FROM STDIN"
        ) as copy:
            for row in batches:
                copy.write_row(row)
        with cursor.copy(
            "COPY records (mine_id, station_id, seq, ts, type, point_id, value_kg, "
            "increment_kg, increment_kind, running, received_at, batch_id) FROM STDIN"
        ) as copy:
            copy.write("".join(records))
        cursor.execute(
            "UPDATE verification_progress SET last_batch_id = 0, last_record_id = 0, "
            "unsigned_before = 0"
        )
    return batch_id, record_id


def _n(value: Any) -> str:
    return "\\N" if value is None or value is False else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mines", type=int, default=1000)
    args = parser.parse_args(argv)
    print(f"{machine()}, load {load()}")
    with fresh_database("postgresql", "verify") as db:
        engine = make_engine(db.url)
        loader = Loader(engine, args.mines)
        started = time.perf_counter()
        loader.setup()
        rows = loader.load_rollups()
        uploads, records = load_raw_hour(loader)
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        print(
            f"loaded {args.mines} mines: {rows:,} hourly rollups of {YEAR}, {uploads:,} signed "
            f"uploads with {records:,} records (the year's last hour) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        sessions = make_sessionmaker(engine)
        now = datetime(YEAR + 1, 1, 1, 1, 0, tzinfo=UTC)
        with transaction(sessions) as session:
            started = time.perf_counter()
            days = repository.day_mismatches(session)
            days_s = time.perf_counter() - started
        with transaction(sessions) as session:
            started = time.perf_counter()
            result = verify_figures(session, now, full=False)
            total_s = time.perf_counter() - started
            session.rollback()
        engine.dispose()
    print(f"every daily rollup of the year against its hours: {days_s:.2f} s ({len(days)} differ)")
    print(
        f"incremental verification: {result.batches:,} uploads, {result.records:,} records, "
        f"{result.hours:,} hours recomputed, every day checked: {total_s:.1f} s in all "
        f"({result.batches / total_s:,.0f} uploads/s, "
        f"{result.records / total_s:,.0f} records/s); findings: {len(result.findings)}"
    )
    if result.findings:
        print(f"first finding: {result.findings[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
