"""One open alarm per condition, whatever races to raise it.

The condition of an alarm is (type, mine, point, station, period key); while it has
not ended there is one alarm for it. Two transactions that both find none and both
insert (two stations of one mine, or two centers on one database) must end with one.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from coalwatch.alarms import service as alarms
from coalwatch.alarms.models import Alarm
from coalwatch.domain.alarms import AlarmType
from coalwatch.storage.models import Mine
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
HOUR = "hour:2026-03-15T12:00:00+08:00"


def _mine_id(url: str) -> int:
    with world(url, now=T0) as w:
        w.mine("M1", capacity_t=3300)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        mine_id = session.scalars(select(Mine.id)).one()
    engine.dispose()
    return mine_id


def _count(url: str, mine_id: int) -> int:
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        n = session.scalar(
            select(func.count())
            .select_from(Alarm)
            .where(Alarm.mine_id == mine_id, Alarm.type == "overproduction_hour")
        )
    engine.dispose()
    return int(n or 0)


def _raise_after(url: str, mine_id: int, barrier: Any) -> None:
    """Raise the hour's alarm, each racer in its own transaction, all of them let go at
    once (the barrier) so that they look for an open alarm at the same moment. SQLite
    takes its write lock as a transaction begins (BEGIN IMMEDIATE): there the racers are
    let go just before it, or the first would hold the lock while the others wait."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    sqlite = url.startswith("sqlite")
    try:
        if sqlite:
            barrier.wait(timeout=30)
        with transaction(sessions) as session:
            if not sqlite:
                barrier.wait(timeout=30)
            alarms.raise_alarm(
                session,
                mine_id=mine_id,
                type_=AlarmType.OVERPRODUCTION_HOUR,
                at=T0,
                subject=HOUR,
                value="1",
                threshold="0.625",
            )
    finally:
        engine.dispose()


def test_the_database_refuses_a_second_open_alarm_of_one_condition(database_url: str) -> None:
    mine_id = _mine_id(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)

    def row() -> Alarm:
        return Alarm(
            mine_id=mine_id,
            type="overproduction_hour",
            severity="major",
            start=T0,
            subject=HOUR,
            state="active",
        )

    with transaction(sessions) as session:
        session.add(row())
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.add(row())
    # an ended alarm of the same condition does not count: the next may open
    with transaction(sessions) as session:
        first = session.scalars(select(Alarm)).one()
        first.end = T0
    with transaction(sessions) as session:
        session.add(row())
    engine.dispose()


def test_racing_threads_raise_one_alarm(database_url: str) -> None:
    mine_id = _mine_id(database_url)
    racers = 4
    barrier = threading.Barrier(racers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _raise_after(database_url, mine_id, barrier)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert _count(database_url, mine_id) == 1


RACER = """
import sys, time
from pathlib import Path
from tests.reliability.test_alarm_identity import _raise_after

url, mine_id, gate, me, parties = sys.argv[1:6]
gate = Path(gate)

class Gate:
    def wait(self, timeout):
        (gate / me).touch()
        deadline = time.monotonic() + timeout
        while len(list(gate.iterdir())) < int(parties) and time.monotonic() < deadline:
            time.sleep(0.01)

_raise_after(url, int(mine_id), Gate())
"""


def test_racing_processes_raise_one_alarm(database_url: str, tmp_path: Path) -> None:
    """Two centers on one database: separate processes, separate connections."""
    mine_id = _mine_id(database_url)
    racers = 3
    gate = tmp_path / "gate"
    gate.mkdir()
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACER,
                database_url,
                str(mine_id),
                str(gate),
                str(i),
                str(racers),
            ],
            cwd=root,
        )
        for i in range(racers)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * racers
    assert _count(database_url, mine_id) == 1
