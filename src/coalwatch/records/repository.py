"""All SQL of the ledgers. Lists are newest first and paged; nothing is ever deleted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coalwatch.records.models import Calibration, Equipment, MaintenanceRecord, UpsTest
from coalwatch.storage.models import Point


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def _paged(session: Session, query: Any, page: int, size: int) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = [tuple(row) for row in session.execute(query.limit(size).offset((page - 1) * size))]
    return rows, total or 0


# ---- equipment ---------------------------------------------------------------------------


def equipment_page(
    session: Session,
    mine_id: int,
    *,
    status: str | None,
    kind: str | None,
    page: int,
    size: int,
) -> tuple[list[tuple[Equipment, str | None]], int]:
    query = (
        select(Equipment, Point.code)
        .outerjoin(Point, Point.id == Equipment.point_id)
        .where(Equipment.mine_id == mine_id)
        .order_by(Equipment.id.desc())
    )
    if status is not None:
        query = query.where(Equipment.status == status)
    if kind is not None:
        query = query.where(Equipment.kind == kind)
    return _paged(session, query, page, size)


def equipment(session: Session, mine_id: int, equipment_id: int) -> Equipment | None:
    return session.scalars(
        select(Equipment).where(Equipment.mine_id == mine_id, Equipment.id == equipment_id)
    ).first()


def equipment_choices(session: Session, mine_id: int) -> list[Equipment]:
    """The mine's items that are not scrapped, for the forms' choices."""
    return list(
        session.scalars(
            select(Equipment)
            .where(Equipment.mine_id == mine_id, Equipment.status != "scrapped")
            .order_by(Equipment.name, Equipment.id)
        )
    )


def point_code(session: Session, point_id: int | None) -> str | None:
    if point_id is None:
        return None
    return session.scalar(select(Point.code).where(Point.id == point_id))


# ---- maintenance -------------------------------------------------------------------------


def maintenance_page(
    session: Session,
    mine_id: int,
    *,
    kind: str | None,
    equipment_id: int | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    size: int,
) -> tuple[list[tuple[MaintenanceRecord, str | None, str | None]], int]:
    query = (
        select(MaintenanceRecord, Point.code, Equipment.name)
        .outerjoin(Point, Point.id == MaintenanceRecord.point_id)
        .outerjoin(Equipment, Equipment.id == MaintenanceRecord.equipment_id)
        .where(MaintenanceRecord.mine_id == mine_id)
        .order_by(MaintenanceRecord.start.desc(), MaintenanceRecord.id.desc())
    )
    if kind is not None:
        query = query.where(MaintenanceRecord.kind == kind)
    if equipment_id is not None:
        query = query.where(MaintenanceRecord.equipment_id == equipment_id)
    if start is not None:
        query = query.where(MaintenanceRecord.start >= start)
    if end is not None:
        query = query.where(MaintenanceRecord.start < end)
    return _paged(session, query, page, size)


# ---- calibrations ------------------------------------------------------------------------


def calibrations_page(
    session: Session,
    mine_id: int,
    *,
    point_id: int | None,
    first: date | None,
    last: date | None,
    page: int,
    size: int,
) -> tuple[list[tuple[Calibration, str]], int]:
    query = (
        select(Calibration, Point.code)
        .join(Point, Point.id == Calibration.point_id)
        .where(Calibration.mine_id == mine_id)
        .order_by(Calibration.calibrated_on.desc(), Calibration.id.desc())
    )
    if point_id is not None:
        query = query.where(Calibration.point_id == point_id)
    if first is not None:
        query = query.where(Calibration.calibrated_on >= first)
    if last is not None:
        query = query.where(Calibration.calibrated_on <= last)
    return _paged(session, query, page, size)


def calibration(session: Session, mine_id: int, calibration_id: int) -> Calibration | None:
    return session.scalars(
        select(Calibration).where(Calibration.mine_id == mine_id, Calibration.id == calibration_id)
    ).first()


# ---- UPS tests ---------------------------------------------------------------------------


def ups_page(
    session: Session,
    mine_id: int,
    *,
    start: datetime | None,
    end: datetime | None,
    page: int,
    size: int,
) -> tuple[list[tuple[UpsTest, str | None]], int]:
    query = (
        select(UpsTest, Equipment.name)
        .outerjoin(Equipment, Equipment.id == UpsTest.equipment_id)
        .where(UpsTest.mine_id == mine_id)
        .order_by(UpsTest.tested_at.desc(), UpsTest.id.desc())
    )
    if start is not None:
        query = query.where(UpsTest.tested_at >= start)
    if end is not None:
        query = query.where(UpsTest.tested_at < end)
    return _paged(session, query, page, size)
