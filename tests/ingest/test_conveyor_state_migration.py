"""Migration 0040 gives each point its conveyor's last record (by ts, then seq) from the
records already stored.

Point 1: conveyor records at 10:00 running (station 1, seq 5), 10:30 stopped (station 2,
seq 3: a replacement station, later in time with a lower seq) and a totalizer reading at
11:00 (not a conveyor record): its state is 10:30, seq 3, stopped. Point 2: two records at
the same instant 09:00, seq 7 running and seq 8 stopped: the higher seq, stopped. Point 3
has no conveyor record: no state.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from coalwatch.storage.models import Point
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.migrations import upgrade_from

_AT = "'2026-03-01 00:00:00'"
_ROWS = (
    "INSERT INTO orgs (id, code, name, kind, parent_id, path, created_at) "
    f"VALUES (1, 'C1', '县', 'county', NULL, '/1/', {_AT})",
    "INSERT INTO mines (id, code, name, org_id, timezone, created_at) VALUES "
    f"(1, 'M1', '矿', 1, 'Asia/Shanghai', {_AT})",
    "INSERT INTO points (id, mine_id, code, name, kind, created_at) VALUES "
    f"(1, 1, 'B1', '皮带秤', 'belt', {_AT}), (2, 1, 'B2', '皮带秤', 'belt', {_AT}), "
    f"(3, 1, 'B3', '皮带秤', 'belt', {_AT})",
    "INSERT INTO stations (id, mine_id, code, public_key, max_seq, created_at) VALUES "
    f"(1, 1, 'S1', 'k1', 5, {_AT}), (2, 1, 'S2', 'k2', 8, {_AT})",
    "INSERT INTO records (mine_id, station_id, seq, ts, type, point_id, running, value_kg, "
    "received_at) VALUES "
    f"(1, 1, 5, '2026-03-15 10:00:00', 'conveyor', 1, true, NULL, {_AT}), "
    f"(1, 2, 3, '2026-03-15 10:30:00', 'conveyor', 1, false, NULL, {_AT}), "
    f"(1, 2, 4, '2026-03-15 11:00:00', 'totalizer', 1, NULL, 1000, {_AT}), "
    f"(1, 2, 7, '2026-03-15 09:00:00', 'conveyor', 2, true, NULL, {_AT}), "
    f"(1, 2, 8, '2026-03-15 09:00:00', 'conveyor', 2, false, NULL, {_AT})",
)


def test_the_upgrade_gives_each_point_its_conveyors_last_record(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_from(engine, "0039_totals", _ROWS)
        with transaction(make_sessionmaker(engine)) as session:
            states = {
                point_id: (ts, seq, running)
                for point_id, ts, seq, running in session.execute(
                    select(
                        Point.id,
                        Point.last_conveyor_ts,
                        Point.last_conveyor_seq,
                        Point.last_conveyor_running,
                    ).order_by(Point.id)
                )
            }
    finally:
        engine.dispose()
    assert states == {
        1: (datetime(2026, 3, 15, 10, 30, tzinfo=UTC), 3, False),
        2: (datetime(2026, 3, 15, 9, 0, tzinfo=UTC), 8, False),
        3: (None, None, None),
    }
