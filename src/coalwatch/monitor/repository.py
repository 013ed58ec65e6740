"""The SQL of the live state: latest samples and conveyor states per point, stations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coalwatch.storage.models import Point, Record, Station

WEIGHING = ("totalizer", "trip")


def points_of(session: Session, mine_ids: Sequence[int]) -> list[Point]:
    if not mine_ids:
        return []
    return list(
        session.scalars(
            select(Point).where(Point.mine_id.in_(mine_ids)).order_by(Point.mine_id, Point.code)
        )
    )


def stations_of(session: Session, mine_ids: Sequence[int]) -> list[Station]:
    if not mine_ids:
        return []
    return list(
        session.scalars(
            select(Station)
            .where(Station.mine_id.in_(mine_ids))
            .order_by(Station.mine_id, Station.code)
        )
    )


def last_conveyor(session: Session, point_id: int) -> tuple[datetime, bool] | None:
    row = session.execute(
        select(Record.ts, Record.running)
        .where(Record.point_id == point_id, Record.type == "conveyor")
        .order_by(Record.ts.desc(), Record.seq.desc())
        .limit(1)
    ).first()
    return (row[0], bool(row[1])) if row else None


def last_sample(session: Session, point_id: int) -> tuple[datetime, int | None, int | None] | None:
    """The latest weighing record: (time, flow kg/h, value kg)."""
    row = session.execute(
        select(Record.ts, Record.flow_kgph, Record.value_kg)
        .where(Record.point_id == point_id, Record.type.in_(WEIGHING))
        .order_by(Record.ts.desc(), Record.seq.desc())
        .limit(1)
    ).first()
    return (row[0], row[1], row[2]) if row else None


def records_between(
    session: Session,
    mine_id: int,
    start: datetime | None,
    end: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Record, str | None]], int]:
    """A mine's records in [start, end), newest first: one page of them, and how many."""
    where = [Record.mine_id == mine_id]
    if start is not None:
        where.append(Record.ts >= start)
    if end is not None:
        where.append(Record.ts < end)
    total = session.scalar(select(func.count()).select_from(Record).where(*where)) or 0
    rows = session.execute(
        select(Record, Point.code)
        .outerjoin(Point, Point.id == Record.point_id)
        .where(*where)
        .order_by(Record.ts.desc(), Record.seq.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(record, code) for record, code in rows], total
