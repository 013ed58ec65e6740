"""Migration 0039 fills the running totals of the months and years from the daily
rollups that exist, with the coefficient in force each day.

Mine 1: a coefficient of 4.5 % (450 hundredths) from 2026-07-01 to 2026-12-31; daily
rollups: point 1 on 2026-06-30 1,000 kg measured (k = 0: 1,000 × 10,000 = 10,000,000
units), on 2026-07-01 2,000 kg measured (2,000 × 9,550 = 19,100,000), point 2 on
2026-07-01 500 kg manual (500 × 9,550 = 4,775,000), point 1 on 2027-01-01 3,000 kg
measured (30,000,000). Mine 2 has no production, and no totals.
"""

from __future__ import annotations

from datetime import date

from coalwatch.production import repository
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.migrations import upgrade_from

_ROWS = (
    "INSERT INTO orgs (id, code, name, kind, parent_id, path, created_at) "
    "VALUES (1, 'C1', '县', 'county', NULL, '/1/', '2026-03-01 00:00:00')",
    "INSERT INTO mines (id, code, name, org_id, timezone, created_at) VALUES "
    "(1, 'M1', '矿', 1, 'Asia/Shanghai', '2026-03-01 00:00:00'), "
    "(2, 'M2', '矿', 1, 'Asia/Shanghai', '2026-03-01 00:00:00')",
    "INSERT INTO points (id, mine_id, code, name, kind, created_at) VALUES "
    "(1, 1, 'B1', '皮带秤', 'belt', '2026-03-01 00:00:00'), "
    "(2, 1, 'B2', '皮带秤', 'belt', '2026-03-01 00:00:00')",
    "INSERT INTO coefficients (id, mine_id, hundredths, effective_from, effective_to, "
    "created_at) VALUES (1, 1, 450, '2026-07-01', '2026-12-31', '2026-03-01 00:00:00')",
    "INSERT INTO coefficient_spans (id, mine_id, coefficient_id, hundredths, day_from, "
    "day_to) VALUES (1, 1, 1, 450, '2026-07-01', '2026-12-31')",
    "INSERT INTO daily_production (mine_id, point_id, local_day, measured_kg, manual_kg) "
    "VALUES (1, 1, '2026-06-30', 1000, 0), (1, 1, '2026-07-01', 2000, 0), "
    "(1, 2, '2026-07-01', 0, 500), (1, 1, '2027-01-01', 3000, 0)",
)


def test_the_upgrade_fills_the_totals_from_the_daily_rollups(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_from(engine, "0038", _ROWS)
        with transaction(make_sessionmaker(engine)) as session:
            assert repository.stored_totals(session, 1) == {
                ("month", date(2026, 6, 1)): (1_000, 0, 10_000_000),
                ("month", date(2026, 7, 1)): (2_000, 500, 23_875_000),
                ("year", date(2026, 1, 1)): (3_000, 500, 33_875_000),
                ("month", date(2027, 1, 1)): (3_000, 0, 30_000_000),
                ("year", date(2027, 1, 1)): (3_000, 0, 30_000_000),
            }
            assert repository.stored_totals(session, 2) == {}
    finally:
        engine.dispose()
