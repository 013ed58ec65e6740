"""The facts the alarm rules need, read from storage (all the engine's SQL)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from coalwatch.domain.alarms import Window
from coalwatch.storage.models import (
    Calibration,
    Fault,
    HourlyProduction,
    Mine,
    Permit,
    Point,
    Record,
    Shutdown,
    Station,
)

ConveyorStates = list[tuple[datetime, bool]]


def permits(session: Session, mine_id: int, start: datetime, end: datetime) -> list[Window]:
    """Approved permits of a mine overlapping [start, end]."""
    rows = session.scalars(
        select(Permit).where(Permit.mine_id == mine_id, Permit.start <= end, Permit.end > start)
    )
    return [Window(p.start, p.end, str(p.point_id) if p.point_id else None) for p in rows]


def shutdowns(session: Session, mine_id: int, start: datetime, end: datetime) -> list[Shutdown]:
    return list(session.scalars(_SHUTDOWNS, {"mine_id": mine_id, "start": start, "end": end}))


#: read for every batch that produced: built once
_SHUTDOWNS = select(Shutdown).where(
    Shutdown.mine_id == bindparam("mine_id"),
    Shutdown.start <= bindparam("end"),
    Shutdown.end > bindparam("start"),
)


#: conveyor records read back at once; a conveyor changes state far less often
RECENT_CONVEYOR = 64


def conveyor_states(
    session: Session, point_id: int, first: datetime, last: datetime
) -> ConveyorStates:
    """Conveyor records from the last one before ``first`` up to ``last``, in time order.

    One query reads the latest records up to ``last``; only when all of them lie
    after ``first`` (a conveyor switching very often) are the two parts read apart.
    """
    return conveyor_states_of(session, {point_id: (first, last)})[point_id]


def conveyor_states_of(
    session: Session, windows: Mapping[int, tuple[datetime, datetime]]
) -> dict[int, ConveyorStates]:
    """``conveyor_states`` of several points, ``{point_id: (first, last)}``: the latest
    records of all of them in one query (a UNION ALL of each point's own latest
    ``RECENT_CONVEYOR``, each read through the index as alone); a point whose latest
    records all lie after its ``first`` is read apart, as ``conveyor_states`` does."""
    if not windows:
        return {}
    params: dict[str, object] = {}
    for index, (point_id, (_, last)) in enumerate(windows.items()):
        params.update({f"point_{index}": point_id, f"last_{index}": last})
    query = _latest_conveyor(len(windows))
    latest: dict[int, list[tuple[datetime, int, bool]]] = {p: [] for p in windows}
    for point_id, ts, seq, running in session.execute(query, params):
        latest[point_id].append((ts, seq, bool(running)))
    found: dict[int, ConveyorStates] = {}
    for point_id, (first, last) in windows.items():
        rows = sorted(latest[point_id], key=lambda r: (r[0], r[1]))
        states = [(ts, running) for ts, _, running in rows]
        before = [s for s in states if s[0] <= first][-1:]
        within = [s for s in states if s[0] > first]
        if not before and len(rows) == RECENT_CONVEYOR:
            base = _conveyor(point_id)
            earlier = session.execute(
                base.where(Record.ts <= first)
                .order_by(Record.ts.desc(), Record.seq.desc())
                .limit(1)
            ).all()
            before = [(ts, bool(running)) for _, ts, _, running in earlier]
            between = session.execute(
                base.where(Record.ts > first, Record.ts <= last).order_by(Record.ts, Record.seq)
            ).all()
            within = [(ts, bool(running)) for _, ts, _, running in between]
        found[point_id] = [*before, *within]
    return found


@functools.cache
def _latest_conveyor(points: int) -> Any:
    """The statement of ``conveyor_states_of`` for so many points, built once."""
    branches = [
        select(Record.point_id, Record.ts, Record.seq, Record.running)
        .where(
            Record.point_id == bindparam(f"point_{index}"),
            Record.type == "conveyor",
            Record.ts <= bindparam(f"last_{index}"),
        )
        .order_by(Record.ts.desc(), Record.seq.desc())
        .limit(RECENT_CONVEYOR)
        .subquery()
        for index in range(points)
    ]
    selects = [select(b.c.point_id, b.c.ts, b.c.seq, b.c.running) for b in branches]
    return selects[0] if len(selects) == 1 else union_all(*selects)


def _conveyor(point_id: int) -> Select[int | None, datetime, int, bool | None]:
    return select(Record.point_id, Record.ts, Record.seq, Record.running).where(
        Record.point_id == point_id, Record.type == "conveyor"
    )


def state_at(states: ConveyorStates, ts: datetime) -> bool | None:
    """The conveyor's state at an instant: the last record at or before it (None: unknown)."""
    current = None
    for at, running in states:
        if at > ts:
            break
        current = running
    return current


def ran_throughout(session: Session, point_id: int, start: datetime, end: datetime) -> bool:
    states = conveyor_states(session, point_id, start, end)
    return bool(states) and states[0][0] <= start and all(running for _, running in states)


def carried(session: Session, point_id: int, start: datetime, end: datetime) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Record.increment_kg), 0)).where(
            Record.point_id == point_id, Record.ts > start, Record.ts <= end
        )
    )
    return int(total or 0)


def mines(session: Session) -> list[Mine]:
    return list(session.scalars(select(Mine).order_by(Mine.id)))


def points_of(session: Session, mine_id: int) -> list[Point]:
    return list(session.scalars(select(Point).where(Point.mine_id == mine_id).order_by(Point.id)))


def stations_of(session: Session, mine_id: int) -> list[Station]:
    return list(session.scalars(select(Station).where(Station.mine_id == mine_id)))


def last_conveyor(session: Session, point_id: int) -> tuple[datetime, bool] | None:
    row = session.execute(
        select(Record.ts, Record.running)
        .where(Record.point_id == point_id, Record.type == "conveyor")
        .order_by(Record.ts.desc(), Record.seq.desc())
        .limit(1)
    ).first()
    return (row[0], bool(row[1])) if row else None


def last_calibration(session: Session, point_id: int) -> date | None:
    return session.scalar(
        select(func.max(Calibration.calibrated_on)).where(
            Calibration.point_id == point_id,
            # only a confirmed calibration counts (coalwatch.domain.calibration)
            Calibration.pending.is_(False),
        )
    )


def last_production(session: Session, mine_id: int) -> datetime | None:
    """The end of the last hour with production (from the rollups: cheap at any size)."""
    hour = session.scalar(
        select(func.max(HourlyProduction.hour_start)).where(
            HourlyProduction.mine_id == mine_id,
            HourlyProduction.measured_kg + HourlyProduction.manual_kg > 0,
        )
    )
    if hour is None:
        return None
    if isinstance(hour, str):  # SQLite returns an aggregate's datetime as text
        hour = datetime.fromisoformat(hour)
    if hour.tzinfo is None:
        from datetime import UTC

        hour = hour.replace(tzinfo=UTC)
    return hour + timedelta(hours=1)


def open_faults(session: Session) -> list[Fault]:
    return list(session.scalars(select(Fault).where(Fault.closed_at.is_(None))))
