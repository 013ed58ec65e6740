"""The exchange's SQL: what the files carry, the ledger, the marks, the virtual stations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.exchange.models import (
    ExchangeFile,
    ExchangeImport,
    ExchangeMark,
    ExchangeReading,
    VirtualStation,
)
from coalwatch.storage.models import Mine, Point, Record, Station


def mines(session: Session) -> Sequence[Mine]:
    return session.scalars(select(Mine).order_by(Mine.code)).all()


def mine_by_code(session: Session, code: str) -> Mine | None:
    return session.scalar(select(Mine).where(Mine.code == code))


def points(session: Session, mine_id: int) -> Sequence[Point]:
    return session.scalars(select(Point).where(Point.mine_id == mine_id).order_by(Point.code)).all()


def latest(session: Session, point_id: int, type_: str) -> Record | None:
    """The point's latest record of one type (by time, then by arrival)."""
    return session.scalar(
        select(Record)
        .where(Record.point_id == point_id, Record.type == type_)
        .order_by(Record.ts.desc(), Record.id.desc())
        .limit(1)
    )


def window_stats(
    session: Session, mine_id: int, start: datetime, end: datetime
) -> dict[int, tuple[int, int | None, int]]:
    """Per point: production (kg), highest flow (kg/h) and weighing records in [start, end)."""
    rows = session.execute(
        select(
            Record.point_id,
            func.coalesce(func.sum(Record.increment_kg), 0),
            func.max(Record.flow_kgph),
            func.count(),
        )
        .where(
            Record.mine_id == mine_id,
            Record.type.in_(("totalizer", "trip")),
            Record.ts >= start,
            Record.ts < end,
        )
        .group_by(Record.point_id)
    )
    return {p: (int(kg or 0), flow, int(n)) for p, kg, flow, n in rows if p is not None}


def alarms_changed(
    session: Session, mine_id: int, since: datetime | None, after_id: int
) -> Sequence[Alarm]:
    """The mine's alarms raised after alarm ``after_id`` or that changed state after
    ``since`` (all that are not closed when nothing was written yet)."""
    query = select(Alarm).where(Alarm.mine_id == mine_id)
    if since is None:
        query = query.where(Alarm.state != "closed")
    else:
        query = query.where(
            or_(
                Alarm.id > after_id,
                Alarm.end > since,
                Alarm.acknowledged_at > since,
                Alarm.handled_at > since,
            )
        )
    return session.scalars(query.order_by(Alarm.id)).all()


def mark(session: Session, mine_id: int, kind: str) -> ExchangeMark | None:
    return session.get(ExchangeMark, (mine_id, kind))


def set_mark(
    session: Session, mine_id: int, kind: str, at: datetime, digest: str | None = None
) -> None:
    row = mark(session, mine_id, kind)
    if row is None:
        session.add(ExchangeMark(mine_id=mine_id, kind=kind, written_at=at, digest=digest))
    else:
        row.written_at, row.digest = at, digest


def file_named(session: Session, name: str) -> ExchangeFile | None:
    return session.scalar(select(ExchangeFile).where(ExchangeFile.name == name))


def add_file(session: Session, **fields: Any) -> None:
    session.add(ExchangeFile(attempts=0, **fields))
    session.flush()


def pending(session: Session, limit: int) -> Sequence[ExchangeFile]:
    return session.scalars(
        select(ExchangeFile)
        .where(ExchangeFile.sent_at.is_(None))
        .order_by(ExchangeFile.id)
        .limit(limit)
    ).all()


def ledger(session: Session, limit: int = 1000) -> Sequence[ExchangeFile]:
    return session.scalars(select(ExchangeFile).order_by(ExchangeFile.id).limit(limit)).all()


def virtual_station(session: Session, mine_id: int) -> tuple[Station, VirtualStation] | None:
    row = session.execute(
        select(Station, VirtualStation)
        .join(VirtualStation, VirtualStation.station_id == Station.id)
        .where(VirtualStation.mine_id == mine_id)
    ).first()
    return None if row is None else (row[0], row[1])


def reading(session: Session, station_id: int, point: str, kind: str) -> ExchangeReading | None:
    return session.get(ExchangeReading, (station_id, point, kind))


def set_reading(session: Session, station_id: int, point: str, kind: str, ts: datetime) -> None:
    row = reading(session, station_id, point, kind)
    if row is None:
        session.add(ExchangeReading(station_id=station_id, point_code=point, kind=kind, ts=ts))
    else:
        row.ts = ts


def add_import(session: Session, **fields: Any) -> None:
    session.add(ExchangeImport(**fields))


def imported_names(session: Session) -> set[str]:
    return set(session.scalars(select(ExchangeImport.name)))


def own_stations(session: Session, mine_id: int) -> list[str]:
    """The codes of the mine's stations that are not virtual."""
    return list(
        session.scalars(
            select(Station.code)
            .outerjoin(VirtualStation, VirtualStation.station_id == Station.id)
            .where(Station.mine_id == mine_id, VirtualStation.station_id.is_(None))
        )
    )
