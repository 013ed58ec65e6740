"""The SQL of the routine checks and of what the board reads besides them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.records.models import Calibration
from coalwatch.routines.models import RoutineRecord
from coalwatch.storage.models import Mine, Point


def add(session: Session, row: RoutineRecord) -> None:
    session.add(row)
    session.flush()


def last_done(session: Session, mine_id: int) -> dict[tuple[str, int | None], datetime]:
    """When each routine (of each point) of a mine was last done."""
    rows = session.execute(
        select(RoutineRecord.kind, RoutineRecord.point_id, RoutineRecord.done_at).where(
            RoutineRecord.mine_id == mine_id
        )
    )
    last: dict[tuple[str, int | None], datetime] = {}
    for kind, point_id, done_at in rows:
        key = (kind, point_id)
        if key not in last or done_at > last[key]:
            last[key] = done_at
    return last


def records(
    session: Session, mine_id: int, kind: str | None
) -> list[tuple[RoutineRecord, str | None]]:
    query = (
        select(RoutineRecord, Point.code)
        .outerjoin(Point, Point.id == RoutineRecord.point_id)
        .where(RoutineRecord.mine_id == mine_id)
    )
    if kind:
        query = query.where(RoutineRecord.kind == kind)
    rows = session.execute(query.order_by(RoutineRecord.done_at.desc(), RoutineRecord.id.desc()))
    return [(row, point) for row, point in rows]


def calibration_errors(session: Session, point_id: int) -> list[str]:
    """The error percentages of a point's calibrations, oldest first."""
    return [
        text
        for text in session.scalars(
            select(Calibration.error_percent)
            .where(Calibration.point_id == point_id, Calibration.error_percent.is_not(None))
            .order_by(Calibration.calibrated_on, Calibration.id)
        )
        if text is not None
    ]


def last_calibrated(session: Session, mine_id: int) -> dict[int, date]:
    """The day of each point's last confirmed calibration."""
    return dict(
        session.execute(
            select(Calibration.point_id, Calibration.calibrated_on)
            .where(Calibration.mine_id == mine_id, Calibration.pending.is_(False))
            .order_by(Calibration.calibrated_on)
        ).all()
    )


def points(session: Session, mine_id: int) -> list[Point]:
    return list(session.scalars(select(Point).where(Point.mine_id == mine_id).order_by(Point.code)))


def joined(session: Session, mine_id: int) -> datetime | None:
    """The first routine record of a mine: it is on the schedule from then."""
    return session.scalars(
        select(RoutineRecord.done_at)
        .where(RoutineRecord.mine_id == mine_id)
        .order_by(RoutineRecord.done_at)
        .limit(1)
    ).first()


def scheduled_mines(session: Session) -> list[Mine]:
    """The mines with a routine record, that this center judges itself."""
    mine_ids = select(RoutineRecord.mine_id).distinct()
    return list(
        session.scalars(
            select(Mine).where(Mine.id.in_(mine_ids), Mine.managed_by_center_id.is_(None))
        )
    )
