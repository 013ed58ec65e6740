from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coalwatch.domain.coefficients import Span
from coalwatch.storage.models import (
    Capacity,
    CapacityReduction,
    Coefficient,
    CoefficientSpan,
    ManualProduction,
    Mine,
    Org,
    Plan,
    Point,
    Record,
    Station,
)


def mine_by_code(session: Session, code: str) -> tuple[Mine, Org] | None:
    row = session.execute(
        select(Mine, Org).join(Org, Org.id == Mine.org_id).where(Mine.code == code)
    ).first()
    return (row[0], row[1]) if row else None


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def points_of(session: Session, mine_ids: Sequence[int]) -> list[Point]:
    return list(
        session.scalars(select(Point).where(Point.mine_id.in_(mine_ids)).order_by(Point.code))
    )


def point_by_code(session: Session, mine_id: int, code: str) -> Point | None:
    return session.scalars(
        select(Point).where(Point.mine_id == mine_id, Point.code == code)
    ).first()


def stations_of(session: Session, mine_ids: Sequence[int]) -> list[Station]:
    return list(
        session.scalars(select(Station).where(Station.mine_id.in_(mine_ids)).order_by(Station.code))
    )


def station_by_code(session: Session, code: str) -> Station | None:
    return session.scalars(select(Station).where(Station.code == code)).first()


def capacities_of(session: Session, mine_id: int) -> list[Capacity]:
    return list(
        session.scalars(select(Capacity).where(Capacity.mine_id == mine_id).order_by(Capacity.id))
    )


def plan_for(session: Session, mine_id: int, month: object) -> Plan | None:
    return session.scalars(select(Plan).where(Plan.mine_id == mine_id, Plan.month == month)).first()


def coefficients_of(session: Session, mine_id: int) -> list[Coefficient]:
    return list(
        session.scalars(
            select(Coefficient).where(Coefficient.mine_id == mine_id).order_by(Coefficient.id)
        )
    )


def replace_spans(
    session: Session, mine_id: int, approvals: Sequence[Coefficient], spans: Sequence[Span]
) -> None:
    session.execute(delete(CoefficientSpan).where(CoefficientSpan.mine_id == mine_id))
    session.add_all(
        CoefficientSpan(
            mine_id=mine_id,
            coefficient_id=approvals[span.approval].id,
            hundredths=span.hundredths,
            day_from=span.day_from,
            day_to=span.day_to,
        )
        for span in spans
    )
    session.flush()


def measured_between(session: Session, point_id: int, start: datetime, end: datetime) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Record.increment_kg), 0)).where(
            Record.point_id == point_id, Record.ts >= start, Record.ts < end
        )
    )
    return int(total or 0)


def manual_entries(session: Session, mine_id: int) -> list[ManualProduction]:
    return list(
        session.scalars(
            select(ManualProduction)
            .where(ManualProduction.mine_id == mine_id)
            .order_by(ManualProduction.start)
        )
    )


def plans_of(session: Session, mine_id: int) -> list[Plan]:
    return list(
        session.scalars(select(Plan).where(Plan.mine_id == mine_id).order_by(Plan.month.desc()))
    )


def reductions_of(session: Session, mine_id: int) -> list[CapacityReduction]:
    return list(
        session.scalars(
            select(CapacityReduction)
            .where(CapacityReduction.mine_id == mine_id)
            .order_by(CapacityReduction.id)
        )
    )
