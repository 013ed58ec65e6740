"""All SQL of the duty log, patrols and handovers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from coalwatch.duty.models import DutyEntry, Handover, HandoverCheck, HandoverIssue, Patrol
from coalwatch.storage.models import Point


def add(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.flush()


def _page(
    session: Session, query: Select[*tuple[Any, ...]], order: Any, page: int, size: int
) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.execute(query.order_by(*order).offset((max(page, 1) - 1) * size).limit(size))
    return [tuple(r) for r in rows], int(total or 0)


def entries(
    session: Session, mine_id: int, start: datetime, end: datetime, page: int, size: int
) -> tuple[list[tuple[DutyEntry]], int]:
    query = select(DutyEntry).where(
        DutyEntry.mine_id == mine_id, DutyEntry.at >= start, DutyEntry.at < end
    )
    return _page(session, query, (DutyEntry.at.desc(), DutyEntry.id.desc()), page, size)


def patrols(
    session: Session, mine_id: int, start: datetime, end: datetime, page: int, size: int
) -> tuple[list[tuple[Patrol, str | None]], int]:
    query = (
        select(Patrol, Point.code)
        .outerjoin(Point, Point.id == Patrol.point_id)
        .where(Patrol.mine_id == mine_id, Patrol.at >= start, Patrol.at < end)
    )
    return _page(session, query, (Patrol.at.desc(), Patrol.id.desc()), page, size)


def counts(
    session: Session, model: type[DutyEntry] | type[Patrol], mine_id: int, first: date, last: date
) -> dict[tuple[date, str], int]:
    """How many entries or patrols each shift of the days ``first`` to ``last`` holds."""
    rows = session.execute(
        select(model.shift_day, model.shift, func.count())
        .where(model.mine_id == mine_id, model.shift_day >= first, model.shift_day <= last)
        .group_by(model.shift_day, model.shift)
    )
    return {(day, shift): int(n) for day, shift, n in rows}


def handovers(
    session: Session, mine_id: int, first: date, last: date, page: int, size: int
) -> tuple[list[tuple[Handover]], int]:
    query = select(Handover).where(
        Handover.mine_id == mine_id, Handover.shift_day >= first, Handover.shift_day <= last
    )
    return _page(session, query, (Handover.shift_end.desc(),), page, size)


def handover(session: Session, handover_id: int) -> Handover | None:
    return session.get(Handover, handover_id)


def handover_of(session: Session, mine_id: int, day: date, shift: str) -> Handover | None:
    return session.scalars(
        select(Handover).where(
            Handover.mine_id == mine_id, Handover.shift_day == day, Handover.shift == shift
        )
    ).first()


def handovers_between(session: Session, mine_id: int, first: date, last: date) -> list[Handover]:
    return list(
        session.scalars(
            select(Handover).where(
                Handover.mine_id == mine_id,
                Handover.shift_day >= first,
                Handover.shift_day <= last,
            )
        )
    )


def previous_signed(session: Session, mine_id: int, before: datetime) -> Handover | None:
    """The latest handover of the mine before ``before`` that its outgoing side signed."""
    return session.scalars(
        select(Handover)
        .where(
            Handover.mine_id == mine_id,
            Handover.shift_end < before,
            Handover.outgoing_signed_at.is_not(None),
        )
        .order_by(Handover.shift_end.desc())
        .limit(1)
    ).first()


def checks_of(session: Session, ids: Sequence[int]) -> list[HandoverCheck]:
    return list(session.scalars(select(HandoverCheck).where(HandoverCheck.handover_id.in_(ids))))


def issues_of(session: Session, ids: Sequence[int]) -> list[HandoverIssue]:
    return list(
        session.scalars(
            select(HandoverIssue)
            .where(HandoverIssue.handover_id.in_(ids))
            .order_by(HandoverIssue.id)
        )
    )
