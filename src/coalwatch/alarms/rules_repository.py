"""The facts the alarm rules need, read from storage (all the engine's SQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
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
    return list(
        session.scalars(
            select(Shutdown).where(
                Shutdown.mine_id == mine_id, Shutdown.start <= end, Shutdown.end > start
            )
        )
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
    base = select(Record.ts, Record.running).where(
        Record.point_id == point_id, Record.type == "conveyor"
    )
    latest = session.execute(
        base.where(Record.ts <= last)
        .order_by(Record.ts.desc(), Record.seq.desc())
        .limit(RECENT_CONVEYOR)
    ).all()
    states = [(ts, bool(running)) for ts, running in reversed(latest)]
    before = [s for s in states if s[0] <= first][-1:]
    within = [s for s in states if s[0] > first]
    if not before and len(latest) == RECENT_CONVEYOR:
        earlier = session.execute(
            base.where(Record.ts <= first).order_by(Record.ts.desc(), Record.seq.desc()).limit(1)
        ).all()
        before = [(ts, bool(running)) for ts, running in earlier]
        rows = session.execute(
            base.where(Record.ts > first, Record.ts <= last).order_by(Record.ts, Record.seq)
        ).all()
        within = [(ts, bool(running)) for ts, running in rows]
    return [*before, *within]


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
