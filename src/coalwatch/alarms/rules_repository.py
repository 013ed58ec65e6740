"""The facts the alarm rules need, read from storage (all the engine's SQL)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from coalwatch.domain.alarms import Window
from coalwatch.faults.models import Fault
from coalwatch.jobs.models import CenterOutage
from coalwatch.permits.models import Permit, Shutdown
from coalwatch.records.models import Calibration
from coalwatch.storage import driver, facts
from coalwatch.storage.driver import Hot
from coalwatch.storage.models import HourlyProduction, Mine, Point, Record, Station
from coalwatch.storage.rows import DetachedRows
from coalwatch.storage.session import core

ConveyorStates = list[tuple[datetime, bool]]


def permits(session: Session, mine_id: int, start: datetime, end: datetime) -> list[Window]:
    """Approved permits of a mine overlapping [start, end]."""
    rows = session.scalars(
        select(Permit).where(Permit.mine_id == mine_id, Permit.start <= end, Permit.end > start)
    )
    return [Window(p.start, p.end, str(p.point_id) if p.point_id else None) for p in rows]


@dataclass(frozen=True, slots=True)
class DeclaredShutdown:
    """A declared shutdown as the rules read it (a cached fact: not an entity)."""

    id: int
    start: datetime
    end: datetime
    reason: str


def shutdowns(
    session: Session, mine_id: int, start: datetime, end: datetime
) -> list[DeclaredShutdown]:
    """The mine's declared shutdowns overlapping [start, end], in the order declared."""
    every: tuple[DeclaredShutdown, ...] = facts.cached_among(
        session, "shutdowns", mine_id, _SHUTDOWN_TABLES, lambda: _every_shutdown(session), ()
    )
    return [s for s in every if s.start <= end and s.end > start]


def _every_shutdown(session: Session) -> dict[int, tuple[DeclaredShutdown, ...]]:
    """Every mine's declared shutdowns, in the order declared (kept per process: read for
    every batch that produced)."""
    found: dict[int, list[DeclaredShutdown]] = {m: [] for m in session.scalars(select(Mine.id))}
    for mine_id, shutdown_id, start, end, reason in session.execute(_SHUTDOWNS):
        found.setdefault(mine_id, []).append(DeclaredShutdown(shutdown_id, start, end, reason))
    return {mine_id: tuple(every) for mine_id, every in found.items()}


_SHUTDOWNS = select(
    Shutdown.mine_id, Shutdown.id, Shutdown.start, Shutdown.end, Shutdown.reason
).order_by(Shutdown.id)
_SHUTDOWN_TABLES = frozenset({"shutdowns"})


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
    for point_id, ts, seq, running in driver.rows(core(session), query, params):
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
    return Hot(selects[0] if len(selects) == 1 else union_all(*selects))


def _conveyor(point_id: int) -> Select[int | None, datetime, int, bool | None]:
    return select(Record.point_id, Record.ts, Record.seq, Record.running).where(
        Record.point_id == point_id, Record.type == "conveyor"
    )


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


def open_faults(session: Session) -> list[Fault]:
    return list(session.scalars(select(Fault).where(Fault.closed_at.is_(None))))


T = TypeVar("T")


# ---- the timed rules: what every mine's round needs, read for all mines at once -------


def points_by_mine(session: Session) -> dict[int, list[Point]]:
    """Every point, by mine, in id order: detached objects, to be read (a round reads
    every point of the center; the ORM's loading of each cost more than its row)."""
    return _by_mine(session, _POINT, _ALL_POINTS)


def stations_by_mine(session: Session) -> dict[int, list[Station]]:
    """Every station, by mine, in id order (as ``points_by_mine``)."""
    return _by_mine(session, _STATION, _ALL_STATIONS)


def _by_mine(session: Session, rows: DetachedRows[T], statement: Any) -> dict[int, list[T]]:
    found: dict[int, list[T]] = {}
    for row in core(session).execute(statement):
        item = rows.make(row)[0]
        found.setdefault(item.mine_id, []).append(item)  # type: ignore[attr-defined]
    return found


def last_conveyors(session: Session) -> dict[int, tuple[datetime, bool]]:
    """The last conveyor record (when the center received it, running) of every belt
    point that has one, in one query (each point's latest read through its index, as
    alone). The receipt time, not the station's: silence is measured on the center's
    clock, which a station's wrong clock does not move."""
    return {
        point_id: (received, bool(running))
        for point_id, received, running in session.execute(_LAST_CONVEYORS)
    }


def last_calibrations(session: Session) -> dict[int, date]:
    """The day of the last calibration of every point calibrated at least once (only a
    confirmed calibration counts: ``coalwatch.domain.calibration``)."""
    return {point_id: day for point_id, day in session.execute(_LAST_CALIBRATIONS)}


def last_productions(session: Session) -> dict[int, datetime]:
    """The end of the last hour with production of every mine that produced, from the
    rollups (each mine's latest hour read through their key, as alone), in one query."""
    return {
        mine_id: _hour_end(hour)
        for mine_id, hour in session.execute(_LAST_PRODUCTIONS)
        if hour is not None
    }


def center_back_at(session: Session, now: datetime) -> datetime | None:
    """When the center came back from its latest absence (``center_outages``), if any."""
    return session.scalar(select(func.max(CenterOutage.end)).where(CenterOutage.end <= now))


def shutdowns_of(
    session: Session, since: Mapping[int, datetime], end: datetime
) -> dict[int, list[Shutdown]]:
    """``shutdowns(mine, since[mine], end)`` of several mines in one query."""
    if not since:
        return {}
    found: dict[int, list[Shutdown]] = {mine_id: [] for mine_id in since}
    rows = session.scalars(
        _SHUTDOWNS_OF,
        {"mine_ids": list(since), "start": min(since.values()), "end": end},
    )
    for shutdown in rows:
        if shutdown.end > since[shutdown.mine_id]:
            found[shutdown.mine_id].append(shutdown)
    return found


def _hour_end(hour: datetime | str) -> datetime:
    if isinstance(hour, str):  # SQLite returns an aggregate's datetime as text
        hour = datetime.fromisoformat(hour)
    if hour.tzinfo is None:
        hour = hour.replace(tzinfo=UTC)
    return hour + timedelta(hours=1)


#: read for every round of the timed rules: built once
_POINT, _STATION = DetachedRows(Point), DetachedRows(Station)
_ALL_POINTS = select(*_POINT.columns).order_by(Point.id)
_ALL_STATIONS = select(*_STATION.columns).order_by(Station.id)
_LATEST_CONVEYOR_ID = (
    select(Record.id)
    .where(Record.point_id == Point.id, Record.type == "conveyor")
    .order_by(Record.ts.desc(), Record.seq.desc())
    .limit(1)
    .correlate(Point)
    .scalar_subquery()
)
_LAST_CONVEYORS = (
    select(Point.id, Record.received_at, Record.running)
    .join(Record, Record.id == _LATEST_CONVEYOR_ID)
    .where(Point.kind == "belt")
)
_LAST_CALIBRATIONS = (
    select(Calibration.point_id, func.max(Calibration.calibrated_on))
    .where(Calibration.pending.is_(False))
    .group_by(Calibration.point_id)
)
_LAST_PRODUCTIONS = select(
    Mine.id,
    select(func.max(HourlyProduction.hour_start))
    .where(
        HourlyProduction.mine_id == Mine.id,
        HourlyProduction.measured_kg + HourlyProduction.manual_kg > 0,
    )
    .correlate(Mine)
    .scalar_subquery(),
)
_SHUTDOWNS_OF = select(Shutdown).where(
    Shutdown.mine_id.in_(bindparam("mine_ids", expanding=True)),
    Shutdown.start <= bindparam("end"),
    Shutdown.end > bindparam("start"),
)
