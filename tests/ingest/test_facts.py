"""Facts cached per process (thresholds, shutdowns, yardsticks, ...) take effect on the
very next batch after they change, however they change.

Clock: 2026-03-15 12:00 Asia/Shanghai. The mine starts with A = 330,000 t
(H = 330,000 / 330 / 16 = 62.5 t an hour); lowered to A = 3,300 t, H = 0.625 t.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from coalwatch.alarms import service as alarms
from coalwatch.alarms.models import Alarm, Threshold
from coalwatch.domain.alarms import AlarmType
from coalwatch.storage import facts
from coalwatch.storage.models import Mine
from coalwatch.storage.session import make_engine
from tests.support.world import World, totalizer, trip, world

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
ALARMS = frozenset({"alarms"})


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def send(w: World, *records: dict[str, Any]) -> None:
    seqs = w.stations["S1"].seqs(len(records))
    w.ok(w.upload("S1", [dict(r, seq=s) for r, s in zip(records, seqs, strict=True)]))


def two_mines(url: str) -> tuple[int, int]:
    """Mines M1 and M2 (a station each) in the database at ``url``: their ids."""
    with world(url) as w:
        w.mine("M1")
        w.mine("M2", station="S2")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            m1, m2 = (
                session.scalars(select(Mine.id).where(Mine.code == code)).one()
                for code in ("M1", "M2")
            )
    finally:
        engine.dispose()
    return m1, m2


def read_alarms(session: Session, key: str, scope: int | None, loads: list[str]) -> int:
    """The count of mine ``scope``'s alarms (every mine's: None), cached as ``key`` of that
    scope; ``key`` is appended to ``loads`` when it is read from the database."""

    def load() -> int:
        loads.append(key)
        of_mine = select(func.count()).select_from(Alarm)
        if scope is not None:
            of_mine = of_mine.where(Alarm.mine_id == scope)
        return int(session.scalar(of_mine) or 0)

    return facts.cached(
        session, ("test alarms", key, str(session.bind.url)), ALARMS, load, scope=scope
    )


def read_each_mines_alarms(
    session: Session, key: str, mine: int, mines: tuple[int, int], loads: list[str]
) -> int:
    """The count of mine ``mine``'s alarms, cached as ``key`` with those of ``mines`` read
    at once (``cached_among``, scoped); "every" (both read) or "m1" / "m2" (one read
    alone) is appended to ``loads`` when it is read from the database."""

    def count(of: int) -> int:
        where = select(func.count()).select_from(Alarm).where(Alarm.mine_id == of)
        return int(session.scalar(where) or 0)

    def every() -> dict[int, int]:
        loads.append("every")
        return {of: count(of) for of in mines}

    def one() -> int:
        loads.append(f"m{mines.index(mine) + 1}")
        return count(mine)

    kind = ("test alarms of each mine", key, str(session.bind.url))
    return facts.cached_among(session, kind, mine, ALARMS, every, 0, load_one=one, scoped=True)


def test_changed_facts_take_effect_on_the_next_batch(sqlite_url: str) -> None:
    with world(sqlite_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", capacity_t=330000, trips=("K1",))
        # the mine's facts are read (and kept) by these batches
        send(w, totalizer(0, local(2026, 3, 15, 8, 0), "B1", "100"))
        send(w, trip(0, local(2026, 3, 15, 8, 1), "K1", "4.2"))
        send(w, totalizer(0, local(2026, 3, 15, 8, 2), "B1", "101"))
        assert w.alarms() == []

        # a threshold: a trip under 5 t is light
        w.ok(w.put("/mines/M1/thresholds", {"point": "K1", "name": "min_trip_kg", "value": 5000}))
        send(w, trip(0, local(2026, 3, 15, 8, 5), "K1", "4.2"))
        [light] = w.alarms(type="transport_anomaly")
        assert (light["value"], light["threshold"]) == ("4.200", "5.000")

        # a shutdown declared from 09:00: 0.5 t produced at 09:30 is inside it
        shutdown = {
            "start": local(2026, 3, 15, 9, 0).isoformat(),
            "end": local(2026, 3, 15, 11, 0).isoformat(),
            "reason": "停产检修",
        }
        w.ok(w.post("/mines/M1/shutdowns", shutdown))
        send(w, totalizer(0, local(2026, 3, 15, 9, 30), "B1", "101.5"))
        [during] = w.alarms(type="production_during_shutdown")
        assert during["value"] == "0.500"

        # the capacity lowered to 3,300 t: H = 0.625 t; the 11:00 hour's 1 t is above it
        assert w.alarms(type="overproduction_hour") == []
        w.ok(
            w.put("/mines/M1/capacity", {"annual_capacity_t": 3300, "effective_from": "2026-03-01"})
        )
        send(
            w,
            totalizer(0, local(2026, 3, 15, 11, 10), "B1", "102"),
            totalizer(0, local(2026, 3, 15, 11, 20), "B1", "102.5"),
        )
        [hour] = w.alarms(type="overproduction_hour")
        assert (hour["value"], hour["threshold"]) == ("1.000", "0.625")


def test_a_commit_forgets_what_it_changed_and_an_open_writer_reads_its_own(
    sqlite_url: str,
) -> None:
    with world(sqlite_url) as w:
        w.mine("M1", capacity_t=3300)
        w.ok(w.put("/mines/M1/thresholds", {"name": "window_min", "value": 10}))
    engine = make_engine(sqlite_url)
    loads: list[int] = []

    def read(session: Session) -> int:
        def load() -> int:
            loads.append(1)
            value = session.scalar(select(Threshold.value).where(Threshold.name == "window_min"))
            assert value is not None
            return value

        return facts.cached(session, ("test window", sqlite_url), frozenset({"thresholds"}), load)

    try:
        with Session(engine) as session, session.begin():
            assert read(session) == 10
        with Session(engine) as session, session.begin():
            assert read(session) == 10
        assert len(loads) == 1  # the second read came from the cache
        with Session(engine) as session:
            with session.begin():
                session.execute(update(Threshold).values(value=20))
                assert read(session) == 20  # its own change, from the database
                assert len(loads) == 2
            with session.begin():
                assert read(session) == 20  # the commit forgot the 10
        assert len(loads) == 3
        with Session(engine) as session:
            session.begin()
            session.execute(update(Threshold).values(value=30))
            session.rollback()
            with session.begin():
                assert read(session) == 20
    finally:
        engine.dispose()


def test_an_alarm_of_one_mine_leaves_the_alarm_facts_of_the_others_cached(
    database_url: str,
) -> None:
    """A mine's alarms raised and ended forget what was read of that mine's alarms (and
    what was read of no one mine), not what was read of another mine's; a change of the
    alarms whose mines are not known forgets them all."""
    m1, m2 = two_mines(database_url)
    engine = make_engine(database_url)
    loads: list[str] = []

    def read_all() -> list[str]:
        loads.clear()
        with Session(engine) as session, session.begin():
            for key, scope in (("m1", m1), ("m2", m2), ("any", None)):
                read_alarms(session, key, scope, loads)
        return sorted(loads)

    try:
        assert read_all() == ["any", "m1", "m2"]
        assert read_all() == []  # kept

        with Session(engine) as session, session.begin():
            alarms.raise_alarm(session, mine_id=m1, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
        assert read_all() == ["any", "m1"]  # M2's alarms did not change

        with Session(engine) as session, session.begin():
            alarms.end_condition(session, mine_id=m1, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
        assert read_all() == ["any", "m1"]

        with Session(engine) as session, session.begin():
            alarms.raise_alarm(session, mine_id=m2, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
        assert read_all() == ["any", "m2"]

        with Session(engine) as session, session.begin():
            session.execute(update(Alarm).values(acknowledged_by="test"))  # every mine's
        assert read_all() == ["any", "m1", "m2"]
    finally:
        engine.dispose()


def test_alarm_facts_read_for_every_mine_at_once_are_read_again_for_the_mine_that_changed(
    database_url: str,
) -> None:
    """Each mine's alarm count read for every mine at once: a mine's alarm raised drops
    that mine's count only, read again alone (the other's stays kept); a transaction that
    raised one reads its own mine's alone, from the database; a change of every mine's
    alarms makes the next miss read every mine's again."""
    m1, m2 = two_mines(database_url)
    engine = make_engine(database_url)
    loads: list[str] = []

    def read(session: Session, mine: int) -> int:
        return read_each_mines_alarms(session, "every mine's", mine, (m1, m2), loads)

    def read_both() -> tuple[list[str], tuple[int, int]]:
        loads.clear()
        with Session(engine) as session, session.begin():
            counts = (read(session, m1), read(session, m2))
        return list(loads), counts

    try:
        assert read_both() == (["every"], (0, 0))
        assert read_both() == ([], (0, 0))  # kept

        with Session(engine) as session, session.begin():
            alarms.raise_alarm(session, mine_id=m1, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
            loads.clear()
            assert read(session, m1) == 1  # its own change: from the database, alone
            assert read(session, m2) == 0
            assert loads == ["m1"]
        assert read_both() == (["m1"], (1, 0))  # M1 alone; M2's reading stands
        assert read_both() == ([], (1, 0))

        with Session(engine) as session, session.begin():
            alarms.raise_alarm(session, mine_id=m2, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
        assert read_both() == (["m2"], (1, 1))

        with Session(engine) as session, session.begin():
            session.execute(update(Alarm).values(acknowledged_by="test"))  # every mine's
        assert read_both() == (["every"], (1, 1))
    finally:
        engine.dispose()


def test_every_mines_alarm_facts_read_by_a_transaction_are_kept_but_for_the_mines_it_changed(
    database_url: str,
) -> None:
    """A transaction that raised an alarm of M1, then read every mine's alarm facts for
    M2, saw its own uncommitted alarm: M2's value is kept, M1's is not (the transaction
    rolls back: M1 has no alarm)."""
    m1, m2 = two_mines(database_url)
    engine = make_engine(database_url)
    loads: list[str] = []

    def read(session: Session, mine: int) -> int:
        return read_each_mines_alarms(session, "rolled back", mine, (m1, m2), loads)

    try:
        with Session(engine) as session, session.begin():
            alarms.raise_alarm(session, mine_id=m1, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
            assert read(session, m2) == 0
            session.rollback()
        with Session(engine) as session, session.begin():
            loads.clear()
            assert (read(session, m1), read(session, m2)) == (0, 0)
            assert loads == ["m1"]  # M2's was kept from the first reading
    finally:
        engine.dispose()


def test_a_read_during_another_mines_alarm_commit_is_kept_and_during_its_own_is_not(
    sqlite_url: str,
) -> None:
    """A value read while a commit of a mine's alarms is under way may be what that commit
    replaces: it is not kept if it was read of that mine or of no one mine."""
    m1, m2 = two_mines(sqlite_url)
    facts.invalidate()
    began = facts._generation
    with facts._lock:
        facts._committing[("alarms", m1)] = 1
    try:
        with facts._lock:
            assert not facts._may_keep(ALARMS, m1, began)
            assert not facts._may_keep(ALARMS, None, began)
            assert facts._may_keep(ALARMS, m2, began)
            assert facts._may_keep(frozenset({"thresholds"}), None, began)
    finally:
        with facts._lock:
            facts._committing.pop(("alarms", m1), None)
    facts.forget(f"alarms:{m1}")  # another process's commit of M1's alarms, heard
    with facts._lock:
        assert not facts._may_keep(ALARMS, m1, began)
        assert facts._may_keep(ALARMS, m2, began)


def test_a_transaction_that_changed_the_alarms_of_many_mines_announces_the_whole_table() -> None:
    few = frozenset({("alarms", 1), ("alarms", 2), ("thresholds", None)})
    assert facts._collapsed(few) == few
    many = frozenset({("alarms", m) for m in range(1, facts.MAX_MINES_ANNOUNCED + 2)})
    assert facts._collapsed(many | {("thresholds", None)}) == {
        ("alarms", None),
        ("thresholds", None),
    }


def test_a_transaction_reads_its_own_mines_alarms_from_the_database_and_the_others_cached(
    sqlite_url: str,
) -> None:
    m1, m2 = two_mines(sqlite_url)
    engine = make_engine(sqlite_url)
    loads: list[str] = []
    try:
        with Session(engine) as session, session.begin():
            assert (
                read_alarms(session, "m1", m1, loads),
                read_alarms(session, "m2", m2, loads),
            ) == (0, 0)
        loads.clear()
        with Session(engine) as session, session.begin():
            alarms.raise_alarm(session, mine_id=m1, type_=AlarmType.ENCLOSURE_OPEN, at=NOW)
            # its own alarm, from the database; M2's, from the cache (not loaded)
            assert read_alarms(session, "m1", m1, loads) == 1
            assert read_alarms(session, "m2", m2, loads) == 0
            assert read_alarms(session, "any", None, loads) == 1
        assert loads == ["m1", "any"]
    finally:
        engine.dispose()


def test_a_full_store_drops_the_values_past_their_age_then_everything(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys may name days and date ranges no one asks for again: the store stays bounded."""
    engine = make_engine(sqlite_url)
    clock = [1000.0]
    monkeypatch.setattr(facts, "MAX_ENTRIES", 3)
    monkeypatch.setattr(facts.time, "monotonic", lambda: clock[0])
    loads: list[str] = []

    def read(key: str) -> None:
        with Session(engine) as session, session.begin():
            read_alarms(session, key, None, loads)

    try:
        read("old")
        clock[0] += facts.MAX_AGE_S
        read("a")
        read("b")
        read("c")  # full: "old" is past its age and goes, "a" and "b" stay
        read("a")
        read("b")
        assert loads == ["old", "a", "b", "c"]
        read("d")  # full, none past its age: everything goes, "d" is kept
        read("d")
        read("a")
        assert loads == ["old", "a", "b", "c", "d", "a"]
    finally:
        engine.dispose()


def test_the_first_batches_of_many_mines_read_each_kind_of_fact_once(database_url: str) -> None:
    """Three mines, each sending its first batch: their thresholds, shutdowns, capacities
    and stations' issued configurations are read at most once for all of them, each mine's value its
    own (M2's trips under 5 t are light, M1's and M3's are not; M3's production falls in
    its declared shutdown)."""
    from sqlalchemy import event

    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        for n in (1, 2, 3):
            w.mine(f"M{n}", trips=("K1",), station=f"S{n}")
        w.ok(w.put("/mines/M2/thresholds", {"point": "K1", "name": "min_trip_kg", "value": 5000}))
        shutdown = {
            "start": local(2026, 3, 15, 9, 0).isoformat(),
            "end": local(2026, 3, 15, 11, 0).isoformat(),
            "reason": "停产检修",
        }
        w.ok(w.post("/mines/M3/shutdowns", shutdown))
        reads: list[str] = []
        engine = w.client.app.state.coalwatch.sessions.kw["bind"]  # type: ignore[attr-defined]

        def executing(*args: Any) -> None:
            sql = " ".join(str(args[2]).split())
            for table in ("thresholds", "shutdowns", "station_configs", "capacities"):
                if f"FROM {table}" in sql:
                    reads.append(table)

        event.listen(engine, "before_cursor_execute", executing)
        for n in (1, 2, 3):
            records = [
                totalizer(1, local(2026, 3, 15, 9, 0), "B1", "100"),
                totalizer(2, local(2026, 3, 15, 9, 30), "B1", "100.5"),
                trip(3, local(2026, 3, 15, 9, 31), "K1", "4.2"),
            ]
            w.ok(w.upload(f"S{n}", records))
        event.remove(engine, "before_cursor_execute", executing)
        # none read twice (the thresholds may have been read for all by their setting)
        assert sorted(reads) == sorted(set(reads)), reads
        assert {"shutdowns", "station_configs", "capacities"} <= set(reads)
        assert [a["mine"] for a in w.alarms(type="transport_anomaly")] == ["M2"]
        during = w.alarms(type="production_during_shutdown")
        assert [(a["mine"], a["value"]) for a in during] == [("M3", "4.700")]


def test_the_alarm_facts_of_many_mines_are_read_at_once_then_only_of_the_mine_that_changed(
    database_url: str,
) -> None:
    """The first batches of three mines read the alarm facts (the conditions alarmed, the
    alarms not acknowledged) and the alarm types that sound once for all of them. M1's
    power failure changes M1's alarms: M1's next batches read M1's again, by themselves;
    M2's and M3's read none. M1's power coming back ends its alarm (its open conditions
    were read again), and the alarm sounds at its point meanwhile."""
    from sqlalchemy import event

    at = local(2026, 3, 15, 11, 0)
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        for n in (1, 2, 3):
            w.mine(f"M{n}", station=f"S{n}")
        engine = w.client.app.state.coalwatch.sessions.kw["bind"]  # type: ignore[attr-defined]
        reads: list[str] = []

        def executing(*args: Any) -> None:
            sql = " ".join(str(args[2]).split())
            for table in ("alarms", "signal_choices"):
                if f"FROM {table}" in sql:
                    reads.append(f"{table} of one mine" if "mine_id =" in sql else table)

        def upload(station: str, *records: dict[str, Any]) -> tuple[list[str], Any]:
            seqs = w.stations[station].seqs(len(records))
            reads.clear()
            answer = w.ok(
                w.upload(station, [dict(r, seq=s) for r, s in zip(records, seqs, strict=True)])
            )
            return sorted(reads), answer

        def power(event_: str, minute: int) -> dict[str, Any]:
            ts = at + timedelta(minutes=minute)
            return {"ts": ts.isoformat(), "type": "event", "point": "B1", "event": event_}

        event.listen(engine, "before_cursor_execute", executing)
        try:
            firsts = [
                r for n in (1, 2, 3) for r in upload(f"S{n}", totalizer(0, at, "B1", "100"))[0]
            ]
            assert sorted(firsts) == ["alarms", "alarms", "signal_choices"]

            _, answer = upload("S1", power("power_off", 1))
            assert [(p["point"], p["on"]) for p in answer["signals"]["points"]] == [("B1", True)]
            for station in ("S2", "S3"):
                assert (
                    upload(station, totalizer(0, at + timedelta(minutes=1), "B1", "100"))[0] == []
                )
            read, answer = upload("S1", power("power_on", 2))
            assert read and set(read) == {"alarms of one mine"}, read
            assert [(p["point"], p["on"]) for p in answer["signals"]["points"]] == [("B1", True)]
        finally:
            event.remove(engine, "before_cursor_execute", executing)
        [alarm] = w.alarms(type="power_off")
        assert (alarm["mine"], alarm["end"] is not None) == ("M1", True)
