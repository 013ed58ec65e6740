"""All SQL of the approval workflows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from coalwatch.storage.models import Mine, Org, Point
from coalwatch.workflows.models import CoefficientApplication, ManualEntry, MineRequest


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def _scope(scope_path: str | None, mine: str | None) -> list[ColumnElement[bool]]:
    conditions = []
    if scope_path is not None:
        conditions.append(Org.path.startswith(scope_path, autoescape=True))
    if mine is not None:
        conditions.append(Mine.code == mine)
    return conditions


def _page(
    session: Session, query: Select[*tuple[Any, ...]], order: Any, page: int, size: int
) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.execute(query.order_by(*order).offset((max(page, 1) - 1) * size).limit(size))
    return [tuple(r) for r in rows], int(total or 0)


def coefficient_applications(
    session: Session,
    scope_path: str | None,
    *,
    mine: str | None,
    status: str | None,
    page: int,
    size: int,
) -> tuple[list[tuple[CoefficientApplication, Mine]], int]:
    """Newest first; pending ones ahead of decided ones."""
    query = (
        select(CoefficientApplication, Mine)
        .join(Mine, Mine.id == CoefficientApplication.mine_id)
        .join(Org, Org.id == Mine.org_id)
    )
    conditions = _scope(scope_path, mine)
    if status is not None:
        conditions.append(CoefficientApplication.status == status)
    query = query.where(*conditions)
    order = (CoefficientApplication.status != "pending", CoefficientApplication.id.desc())
    return _page(session, query, order, page, size)


def coefficient_application(
    session: Session, application_id: int
) -> tuple[CoefficientApplication, Mine, Org] | None:
    row = session.execute(
        select(CoefficientApplication, Mine, Org)
        .join(Mine, Mine.id == CoefficientApplication.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(CoefficientApplication.id == application_id)
    ).first()
    return (row[0], row[1], row[2]) if row else None


def manual_entries(
    session: Session,
    scope_path: str | None,
    *,
    mine: str | None,
    status: str | None,
    page: int,
    size: int,
) -> tuple[list[tuple[ManualEntry, Mine, Point]], int]:
    query = (
        select(ManualEntry, Mine, Point)
        .join(Mine, Mine.id == ManualEntry.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .join(Point, Point.id == ManualEntry.point_id)
    )
    conditions = _scope(scope_path, mine)
    if status is not None:
        conditions.append(ManualEntry.status == status)
    query = query.where(*conditions)
    order = (ManualEntry.status != "pending", ManualEntry.id.desc())
    return _page(session, query, order, page, size)


def manual_entry(session: Session, entry_id: int) -> tuple[ManualEntry, Mine, Org, Point] | None:
    row = session.execute(
        select(ManualEntry, Mine, Org, Point)
        .join(Mine, Mine.id == ManualEntry.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .join(Point, Point.id == ManualEntry.point_id)
        .where(ManualEntry.id == entry_id)
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


def mine_requests(
    session: Session,
    scope_path: str | None,
    *,
    mine: str | None,
    status: str | None,
    page: int,
    size: int,
    kinds: Sequence[str] = (),
) -> tuple[list[tuple[MineRequest, Mine]], int]:
    """Newest first; pending ones ahead of decided ones."""
    query = select(MineRequest, Mine).join(Mine, Mine.id == MineRequest.mine_id)
    query = query.join(Org, Org.id == Mine.org_id)
    conditions = _scope(scope_path, mine)
    if status is not None:
        conditions.append(MineRequest.status == status)
    if kinds:
        conditions.append(MineRequest.kind.in_(kinds))
    query = query.where(*conditions)
    order = (MineRequest.status != "pending", MineRequest.id.desc())
    return _page(session, query, order, page, size)


def mine_request(session: Session, request_id: int) -> tuple[MineRequest, Mine, Org] | None:
    row = session.execute(
        select(MineRequest, Mine, Org)
        .join(Mine, Mine.id == MineRequest.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(MineRequest.id == request_id)
    ).first()
    return (row[0], row[1], row[2]) if row else None
