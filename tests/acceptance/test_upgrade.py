"""Migration 0030 on a database that has mines: each is accepted by the upgrade from the
day before its first day (of entry or of production), so none of its figures is marked
and no alarm follows; the regulator's role gets the two new decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from coalwatch.acceptance import flags
from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction


def test_the_upgrade_accepts_the_mines_that_exist(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        # the migrated test database, as it was before 0030
        command.downgrade(migrate.alembic_config(engine), "0025")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO orgs (id, code, name, kind, parent_id, path, created_at) "
                    "VALUES (1, 'C1', '县', 'county', NULL, '/1/', '2026-03-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO mines (id, code, name, org_id, timezone, created_at) VALUES "
                    "(1, 'M1', '矿', 1, 'Asia/Shanghai', '2026-03-10 02:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO points (id, mine_id, code, name, kind, created_at) VALUES "
                    "(1, 1, 'B1', '皮带秤', 'belt', '2026-03-10 02:00:00')"
                )
            )
            # a backlog of production older than the mine's entry: 2026-03-05 (local)
            connection.execute(
                text(
                    "INSERT INTO hourly_production (mine_id, point_id, hour_start, local_day, "
                    "measured_kg, manual_kg) VALUES (1, 1, '2026-03-05 01:00:00', '2026-03-05', "
                    "5000, 0)"
                )
            )
        migrate.upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            row = session.execute(
                text(
                    "SELECT kind, state, decided_on, decided_by, unit_id FROM acceptance_decisions"
                )
            ).one()
            # the day before 2026-03-05, the first day of production
            assert tuple(row) == ("acceptance", "accepted", "2026-03-04", "系统升级", None)
            start = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)  # 2026-03-05 00:00 in Shanghai
            assert (
                flags.unaccepted_during(session, [1], start, datetime(2026, 4, 1, tzinfo=UTC))
                == set()
            )
            regulator = session.execute(
                text("SELECT permissions FROM roles WHERE code = 'regulator'")
            ).scalar_one()
            assert {"region:acceptance", "region:penalty"} <= set(regulator.split())
    finally:
        engine.dispose()
