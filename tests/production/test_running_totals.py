"""Running totals of a mine's months and years (``mine_period_totals``): kept by every
path that changes the rollups or the coefficients in force, exact to the raw unit, on
SQLite and PostgreSQL.

Mine M1 (Asia/Shanghai), the clock at 2027-01-01 02:00 local. Raw units are 1/10,000 kg:
a day's raw units = its gross kg × (10,000 − the hundredths of the coefficient in force
that day). A coefficient of 4.5 % (450 hundredths) is in force from 2026-07-01 to
2026-12-31; none in 2027 (k = 0).

Every month and year is of local days: 2027-01-01 00:20 local is 2026-12-31 16:20 UTC,
and counts in January and in 2027.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from coalwatch.auth.principal import OPERATOR
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import CoefficientIn
from coalwatch.production import repository
from coalwatch.storage.models import Mine, Point
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.suspects import service as suspects
from coalwatch.suspects.schemas import ConfirmIn
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")
DEC, JAN = date(2026, 12, 1), date(2027, 1, 1)
Y2026, Y2027 = date(2026, 1, 1), date(2027, 1, 1)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url, now=local(2027, 1, 1, 2, 0)) as w:
        w.mine("M1", belts=("B1",))
        w.ok(
            w.post(
                "/mines/M1/coefficients",
                {"percent": "4.5", "effective_from": "2026-07-01", "effective_to": "2026-12-31"},
            )
        )
        yield w


def send(w: World, *readings: tuple[int, datetime, str]) -> None:
    w.ok(w.upload("S1", [totalizer(seq, ts, "B1", t) for seq, ts, t in readings]))


def stored(w: World) -> dict[tuple[str, date], tuple[int, int, int]]:
    """M1's running totals: (period, first day) → (measured kg, manual kg, raw units)."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        mine_id = session.scalars(select(Mine.id).where(Mine.code == "M1")).one()
        totals = repository.stored_totals(session, mine_id)
        # the same figures as summed from the daily rollups at read time
        for (period, first), sums in totals.items():
            last = date(first.year, 12, 31) if period == "year" else _month_end(first)
            assert repository.range_sums(session, [mine_id], first, last)[mine_id] == sums
    engine.dispose()
    return totals


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def test_totals_follow_ingest_across_a_month_and_a_year_in_local_time(w: World) -> None:
    # 100 t on 2026-12-31 (local), 150 t on 2027-01-01 00:20 local (16:20 UTC the day
    # before)
    send(
        w,
        (1, local(2026, 12, 31, 23, 0), "0"),
        (2, local(2026, 12, 31, 23, 40), "100"),
        (3, local(2027, 1, 1, 0, 20), "250"),
    )
    # December and 2026: 100,000 kg × 9,550 = 955,000,000; January and 2027: 150,000 kg
    # × 10,000 = 1,500,000,000
    assert stored(w) == {
        ("month", DEC): (100_000, 0, 955_000_000),
        ("year", Y2026): (100_000, 0, 955_000_000),
        ("month", JAN): (150_000, 0, 1_500_000_000),
        ("year", Y2027): (150_000, 0, 1_500_000_000),
    }


def test_a_coefficient_approved_for_a_past_day_recomputes_its_totals(w: World) -> None:
    send(
        w,
        (1, local(2026, 12, 31, 23, 0), "0"),
        (2, local(2026, 12, 31, 23, 40), "100"),
        (3, local(2027, 1, 1, 0, 20), "250"),
    )
    w.ok(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "6", "effective_from": "2026-12-31", "effective_to": "2026-12-31"},
        )
    )
    # 2026-12-31 at 6 %: 100,000 kg × 9,400 = 940,000,000; January untouched
    assert stored(w) == {
        ("month", DEC): (100_000, 0, 940_000_000),
        ("year", Y2026): (100_000, 0, 940_000_000),
        ("month", JAN): (150_000, 0, 1_500_000_000),
        ("year", Y2027): (150_000, 0, 1_500_000_000),
    }


def test_a_late_reading_moves_production_between_the_totals(w: World) -> None:
    # 300 t from 22:00 on 31 December to 01:00 on 1 January: all of it on 1 January ...
    send(w, (1, local(2026, 12, 31, 22, 0), "0"), (3, local(2027, 1, 1, 1, 0), "300"))
    assert stored(w)[("month", JAN)] == (300_000, 0, 3_000_000_000)
    # ... until the reading of 23:30 arrives: 100 t on 31 December, 200 t on 1 January
    send(w, (2, local(2026, 12, 31, 23, 30), "100"))
    assert stored(w) == {
        ("month", DEC): (100_000, 0, 955_000_000),
        ("year", Y2026): (100_000, 0, 955_000_000),
        ("month", JAN): (200_000, 0, 2_000_000_000),
        ("year", Y2027): (200_000, 0, 2_000_000_000),
    }


def test_a_confirmed_suspect_increment_adds_to_the_totals(w: World) -> None:
    w.ok(
        w.post(
            "/mines/M1/points",
            {"code": "B2", "name": "B2", "kind": "belt", "max_flow_tph": "1000"},
        )
    )
    # B2 carries 1,000 t/h: a "reset" to 1,234 t in 3 s is held as suspect; +500 kg on
    # 31 December, +250 kg on 1 January
    w.ok(
        w.upload(
            "S1",
            [
                dict(totalizer(1, local(2026, 12, 31, 23, 59, 50), "B2", "5000")),
                dict(totalizer(2, local(2026, 12, 31, 23, 59, 53), "B2", "5000.500")),
                dict(totalizer(3, local(2026, 12, 31, 23, 59, 56), "B2", "1234")),
                dict(totalizer(4, local(2027, 1, 1, 0, 0, 2), "B2", "1234.250")),
            ],
        )
    )
    assert stored(w)[("month", DEC)] == (500, 0, 500 * 9_550)
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        (held,) = suspects.list_suspects(session, OPERATOR, "M1", "held")
        suspects.confirm(session, OPERATOR, held.id, ConfirmIn(reason="核实"), w.clock())
    engine.dispose()
    # December: 500 + 1,234,000 = 1,234,500 kg × 9,550 = 11,789,475,000
    assert stored(w) == {
        ("month", DEC): (1_234_500, 0, 11_789_475_000),
        ("year", Y2026): (1_234_500, 0, 11_789_475_000),
        ("month", JAN): (250, 0, 2_500_000),
        ("year", Y2027): (250, 0, 2_500_000),
    }


def test_manual_production_over_new_year_adds_to_both_years(w: World) -> None:
    # 20 t from 23:00 to 01:00 local: 10 t in each hour, one each side of midnight
    w.ok(
        w.post(
            "/mines/M1/manual-production",
            {
                "point": "B1",
                "start": local(2026, 12, 31, 23, 0).isoformat(),
                "end": local(2027, 1, 1, 1, 0).isoformat(),
                "gross_t": "20",
                "reason": "皮带秤故障，人工计量",
            },
        )
    )
    # December: 10,000 kg × 9,550 = 95,500,000; January: 10,000 kg × 10,000
    assert stored(w) == {
        ("month", DEC): (0, 10_000, 95_500_000),
        ("year", Y2026): (0, 10_000, 95_500_000),
        ("month", JAN): (0, 10_000, 100_000_000),
        ("year", Y2027): (0, 10_000, 100_000_000),
    }


def _ids(session: Any) -> tuple[int, int, int]:
    mine_id = session.scalars(select(Mine.id).where(Mine.code == "M1")).one()
    b1, b2 = session.scalars(select(Point.id).where(Point.mine_id == mine_id).order_by(Point.id))
    return mine_id, b1, b2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_transactions_adding_to_one_month_lose_nothing(database_url: str) -> None:
    """The second transaction's addition waits for the first's row lock and adds to what
    the first committed: 1,000 kg + 2,000 kg on 2027-01-01 (k = 0)."""
    with world(database_url, now=local(2027, 1, 1, 2, 0)) as w:
        w.mine("M1", belts=("B1", "B2"))
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    hour = local(2027, 1, 1, 0, 0)
    day = hour.date()
    errors: list[BaseException] = []
    first = sessions()
    try:
        mine_id, b1, b2 = _ids(first)
        repository.add_to_rollups(first, mine_id, {(b1, hour): (day, 1_000, 0)})
        first_pid = first.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def second() -> None:
            try:
                with transaction(sessions) as session:
                    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                    totals = repository.add_to_rollups(
                        session, mine_id, {(b2, hour): (day, 2_000, 0)}
                    )
                    assert totals.periods[("month", JAN)] == (3_000, 0, 30_000_000), pid
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        # the second transaction waits for a lock the first holds
        _wait_until_blocked_by(engine, first_pid, thread, errors)
        first.commit()
        first.close()
        thread.join(60)
        assert not errors, errors
        with transaction(sessions) as session:
            assert repository.stored_totals(session, mine_id) == {
                ("month", JAN): (3_000, 0, 30_000_000),
                ("year", Y2027): (3_000, 0, 30_000_000),
            }
    finally:
        first.close()
        engine.dispose()


def test_recomputing_gives_the_totals_kept(w: World) -> None:
    """The safety net: the totals recomputed from the daily rollups are the ones kept."""
    send(
        w,
        (1, local(2026, 12, 31, 23, 0), "0"),
        (2, local(2026, 12, 31, 23, 40), "100"),
        (3, local(2027, 1, 1, 0, 20), "250"),
    )
    kept = stored(w)
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        mine_id = session.scalars(select(Mine.id).where(Mine.code == "M1")).one()
        session.execute(text("UPDATE mine_period_totals SET raw_units = 0"))
        repository.recompute_totals(session, mine_id)
    engine.dispose()
    assert stored(w) == kept
    assert kept[("year", Y2026)][2] == 955_000_000
    assert Decimal(kept[("year", Y2027)][2]) / 10_000_000 == Decimal(150)


def _wait_until_blocked_by(
    engine: Any, pid: int, waiter: threading.Thread, errors: list[BaseException]
) -> None:
    """Return once another transaction waits for ``pid``'s; fail, saying what the waiter
    did instead, when it ends without waiting or nothing waits within a minute."""
    with engine.connect() as watcher:
        for _ in range(1200):
            waiting = watcher.execute(
                text("SELECT pg_blocking_pids(pid) FROM pg_stat_activity WHERE pid <> :me"),
                {"me": pid},
            ).scalars()
            if any(pid in (pids or []) for pids in waiting):
                return
            watcher.rollback()  # a transaction sees one snapshot of pg_stat_activity
            if not waiter.is_alive():
                raise AssertionError(f"the second transaction ended without waiting: {errors}")
            threading.Event().wait(0.05)
        others = watcher.execute(
            text(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 120)"
                " FROM pg_stat_activity WHERE datname = current_database()"
            )
        ).all()
    raise AssertionError(f"no transaction waited for the first ({pid}): {others}")


def _held_suspect(w: World) -> int:
    """B2 (1,000 t/h at most): +500 kg at 23:59:53 on 31 December, then a "reset" to
    1,234 t in 3 s, held as suspect."""
    w.ok(
        w.post(
            "/mines/M1/points",
            {"code": "B2", "name": "B2", "kind": "belt", "max_flow_tph": "1000"},
        )
    )
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, local(2026, 12, 31, 23, 59, 50), "B2", "5000"),
                totalizer(2, local(2026, 12, 31, 23, 59, 53), "B2", "5000.500"),
                totalizer(3, local(2026, 12, 31, 23, 59, 56), "B2", "1234"),
            ],
        )
    )
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        (held,) = suspects.list_suspects(session, OPERATOR, "M1", "held")
    engine.dispose()
    return held.id


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_suspect_confirmed_during_a_coefficient_change_counts_at_the_new_coefficient(
    w: World,
) -> None:
    """A coefficient approved for 2026-12-31 (6 %) while a suspect increment of that day
    is confirmed: the confirmation waits for the approval, and the day counts at 6 %:
    (500 + 1,234,000) kg × 9,400 = 11,604,300,000 units."""
    held = _held_suspect(w)
    engine = make_engine(w.url)
    sessions = make_sessionmaker(engine)
    errors: list[BaseException] = []
    first = sessions()
    try:
        mines.approve_coefficient(
            first,
            OPERATOR,
            "M1",
            CoefficientIn(
                percent=Decimal(6),
                effective_from=date(2026, 12, 31),
                effective_to=date(2026, 12, 31),
            ),
            w.clock(),
        )
        first_pid = first.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def confirm() -> None:
            try:
                with transaction(sessions) as session:
                    suspects.confirm(session, OPERATOR, held, ConfirmIn(reason="核实"), w.clock())
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        thread = threading.Thread(target=confirm, daemon=True)
        thread.start()
        _wait_until_blocked_by(engine, first_pid, thread, errors)
        first.commit()
        thread.join(60)
        assert not errors, errors
    finally:
        first.close()
        engine.dispose()
    assert stored(w)[("month", DEC)] == (1_234_500, 0, 11_604_300_000)


def test_a_mines_stored_hours_are_read_however_far_apart(database_url: str) -> None:
    """What the hourly limit is checked against: 1,000 kg on B1 and 2,000 kg on B2 in the
    hour from 00:00 on 2027-01-01, 500 kg on B1 at 01:00, 700 kg at 00:00 on 2027-01-05.
    Read for hours close together (one span) and for hours 4 days apart; an hour asked for
    with nothing stored is left out."""
    with world(database_url, now=local(2027, 1, 5, 2, 0)) as w:
        w.mine("M1", belts=("B1", "B2"))
    engine = make_engine(database_url)
    h0, h1, later = local(2027, 1, 1, 0, 0), local(2027, 1, 1, 1, 0), local(2027, 1, 5, 0, 0)
    empty = local(2027, 1, 1, 2, 0)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            mine_id, b1, b2 = _ids(session)
            repository.add_to_rollups(
                session,
                mine_id,
                {
                    (b1, h0): (h0.date(), 1_000, 0),
                    (b2, h0): (h0.date(), 2_000, 0),
                    (b1, h1): (h1.date(), 500, 0),
                    (b1, later): (later.date(), 700, 0),
                },
            )
            assert repository.mine_hour_kg(session, mine_id, [h1, h0, empty]) == {
                h0: (3_000, 0),
                h1: (500, 0),
            }
            assert repository.mine_hour_kg(session, mine_id, [h0, later]) == {
                h0: (3_000, 0),
                later: (700, 0),
            }
            assert repository.mine_hour_kg(session, mine_id, []) == {}
    finally:
        engine.dispose()


def test_an_addition_returns_the_mines_hours_and_days_as_they_now_stand(
    database_url: str,
) -> None:
    """What the overproduction rules compare after an addition, returned by it: the mine's
    raw units of every hour from the first it added to to the last, and of every day from
    the one before to the one after, what was stored before included (at the coefficient of
    each day), the same as read afterwards.

    Stored first: 1,000 kg on B1 in the hour from 23:00 on 2026-12-31 (k = 4.5 %); 2,000 kg
    measured and 100 kg by hand on B2 at 00:00 on 2027-01-01, 10 kg on B1 at 01:00, 300 kg
    on B1 at 10:00 on 2027-01-02 (k = 0). Then added: 400 kg on B1 and 50 kg on B2 at 00:00,
    20 kg on B1 at 02:00 on 2027-01-01.

    Hours: 00:00 (2,000 + 100 + 400 + 50) × 10,000 = 25,500,000; 01:00, with nothing
    added, 10 × 10,000 = 100,000; 02:00 20 × 10,000 = 200,000. Days: 2026-12-31
    1,000 × (10,000 − 450) = 9,550,000; 2027-01-01 2,580 × 10,000 = 25,800,000;
    2027-01-02 300 × 10,000 = 3,000,000."""
    with world(database_url, now=local(2027, 1, 2, 12, 0)) as w:
        w.mine("M1", belts=("B1", "B2"))
        w.ok(
            w.post(
                "/mines/M1/coefficients",
                {"percent": "4.5", "effective_from": "2026-07-01", "effective_to": "2026-12-31"},
            )
        )
    engine = make_engine(database_url)
    h23, h0, h1, h2 = (local(2026, 12, 31, 23), *(local(2027, 1, 1, h) for h in (0, 1, 2)))
    later = local(2027, 1, 2, 10)
    new_year, second = date(2027, 1, 1), date(2027, 1, 2)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            mine_id, b1, b2 = _ids(session)
            repository.hold_mine(session, mine_id)
            repository.add_to_rollups(
                session,
                mine_id,
                {
                    (b1, h23): (date(2026, 12, 31), 1_000, 0),
                    (b2, h0): (new_year, 2_000, 100),
                    (b1, h1): (new_year, 10, 0),
                    (b1, later): (second, 300, 0),
                },
            )
            added = repository.add_to_rollups(
                session,
                mine_id,
                {
                    (b1, h0): (new_year, 400, 0),
                    (b2, h0): (new_year, 50, 0),
                    (b1, h2): (new_year, 20, 0),
                },
            )
            assert added.mine is not None
            assert added.mine.hours == {h0: 25_500_000, h1: 100_000, h2: 200_000}
            assert added.mine.days == {
                date(2026, 12, 31): 9_550_000,
                new_year: 25_800_000,
                second: 3_000_000,
            }
            hours, days = repository.added_spans(
                {(b1, h0): (new_year, 0, 0), (b1, h2): (new_year, 0, 0)}
            )
            assert repository.mine_totals(session, mine_id, hours, days) == added.mine
    finally:
        engine.dispose()
