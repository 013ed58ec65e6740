"""The SQL of acceptance: the decisions of mines, and their production since an instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coalwatch.acceptance.models import AcceptanceDecision
from coalwatch.domain.acceptance import Step
from coalwatch.storage.models import HourlyProduction, Mine


def decisions(session: Session, mine_id: int) -> list[AcceptanceDecision]:
    return list(
        session.scalars(
            select(AcceptanceDecision)
            .where(AcceptanceDecision.mine_id == mine_id)
            .order_by(AcceptanceDecision.decided_on, AcceptanceDecision.id)
        )
    )


def decision(session: Session, decision_id: int) -> AcceptanceDecision | None:
    return session.get(AcceptanceDecision, decision_id)


def effective(decided_on: date, timezone: str) -> datetime:
    """A decision holds from the start of its day (mine-local): the day of the act."""
    return datetime.combine(decided_on, time(), ZoneInfo(timezone))


def histories(session: Session, mine_ids: Sequence[int] | None) -> dict[int, list[Step]]:
    """The states of these mines (all when None) in time order, in one query; a mine
    without decisions has an empty history (under construction)."""
    query = (
        select(
            AcceptanceDecision.mine_id,
            AcceptanceDecision.decided_on,
            AcceptanceDecision.state,
            Mine.timezone,
        )
        .join(Mine, Mine.id == AcceptanceDecision.mine_id)
        .order_by(AcceptanceDecision.mine_id, AcceptanceDecision.decided_on, AcceptanceDecision.id)
    )
    if mine_ids is not None:
        if not mine_ids:
            return {}
        query = query.where(AcceptanceDecision.mine_id.in_(list(mine_ids)))
    found: dict[int, list[Step]] = {m: [] for m in mine_ids or ()}
    for mine_id, day, state, timezone in session.execute(query):
        found.setdefault(mine_id, []).append(Step(effective(day, timezone), state))
    return found


def latest(session: Session, mine_ids: Sequence[int]) -> dict[int, AcceptanceDecision]:
    """The last decision of each of these mines that has one."""
    if not mine_ids:
        return {}
    rows = session.scalars(
        select(AcceptanceDecision)
        .where(AcceptanceDecision.mine_id.in_(list(mine_ids)))
        .order_by(AcceptanceDecision.decided_on, AcceptanceDecision.id)
    )
    return {d.mine_id: d for d in rows}


def last_accepting(session: Session, mine_ids: Sequence[int]) -> dict[int, AcceptanceDecision]:
    """The last decision of each mine that accepted its system (who, which unit, when)."""
    if not mine_ids:
        return {}
    rows = session.scalars(
        select(AcceptanceDecision)
        .where(AcceptanceDecision.mine_id.in_(list(mine_ids)), AcceptanceDecision.passed)
        .where(AcceptanceDecision.kind != "suspension")
        .order_by(AcceptanceDecision.decided_on, AcceptanceDecision.id)
    )
    return {d.mine_id: d for d in rows}


def own_mines(session: Session) -> list[Mine]:
    """The mines whose rules this center evaluates (not mirrored from a downstream)."""
    return list(session.scalars(select(Mine).where(Mine.managed_by_center_id.is_(None))))


def produced_since(session: Session, since: dict[int, datetime]) -> dict[int, tuple[datetime, int]]:
    """Per mine: the first hour with production from the hour holding ``since[mine]`` on,
    and the kilograms (measured and manual) of those hours; mines without any are left out."""
    if not since:
        return {}
    hour = HourlyProduction
    rows = session.execute(
        select(
            hour.mine_id,
            hour.hour_start,
            func.sum(hour.measured_kg + hour.manual_kg),
        )
        .where(
            hour.mine_id.in_(list(since)),
            hour.hour_start >= min(since.values()).replace(minute=0, second=0, microsecond=0),
        )
        .group_by(hour.mine_id, hour.hour_start)
    )
    out: dict[int, tuple[datetime, int]] = {}
    for mine_id, start, kg in rows:
        if not kg or start < since[mine_id].replace(minute=0, second=0, microsecond=0):
            continue
        first, total = out.get(mine_id, (start, 0))
        out[mine_id] = (min(first, start), total + int(kg))
    return out
