from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.faults.models import Fault
from coalwatch.storage.models import CapacityReduction, Mine, Org, Point


def add(session: Session, fault: Fault) -> None:
    session.add(fault)
    session.flush()


def for_alarm(session: Session, alarm_id: int) -> Fault | None:
    return session.scalars(select(Fault).where(Fault.alarm_id == alarm_id)).first()


def open_faults(session: Session) -> list[Fault]:
    return list(session.scalars(select(Fault).where(Fault.closed_at.is_(None))))


def listed(
    session: Session, scope_path: str | None, mine: str | None, open_only: bool, limit: int
) -> list[tuple[Fault, Mine, str | None, CapacityReduction | None]]:
    query = (
        select(Fault, Mine, Point.code, CapacityReduction)
        .join(Mine, Mine.id == Fault.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .outerjoin(Point, Point.id == Fault.point_id)
        .outerjoin(CapacityReduction, CapacityReduction.id == Fault.reduction_id)
        .order_by(Fault.occurred_at.desc(), Fault.id.desc())
        .limit(limit)
    )
    if scope_path is not None:
        query = query.where(Org.path.startswith(scope_path, autoescape=True))
    if mine is not None:
        query = query.where(Mine.code == mine)
    if open_only:
        query = query.where(Fault.closed_at.is_(None))
    return [(f, m, p, r) for f, m, p, r in session.execute(query)]


def with_mine(session: Session, fault_id: int) -> tuple[Fault, Mine, Org] | None:
    row = session.execute(
        select(Fault, Mine, Org)
        .join(Mine, Mine.id == Fault.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(Fault.id == fault_id)
    ).first()
    return (row[0], row[1], row[2]) if row else None
