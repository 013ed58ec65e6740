"""All SQL of reports: shifts, revisions, signatures, and the day's alarms, faults and
manual entries. The figures come from :mod:`coalwatch.production` (the rollups)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.faults.models import Fault
from coalwatch.reports.models import ReportRevision, ReportShifts, ReportSignature
from coalwatch.storage.models import ManualProduction, Point
from coalwatch.users.models import Role, UserRole


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def shifts_of(session: Session, mine_id: int) -> ReportShifts | None:
    return session.get(ReportShifts, mine_id)


def _point_codes(session: Session, mine_id: int) -> dict[int, str]:
    return dict(session.execute(select(Point.id, Point.code).where(Point.mine_id == mine_id)).all())


def alarms_in(
    session: Session, mine_id: int, start: datetime, end: datetime
) -> list[tuple[Alarm, str | None]]:
    """Alarms of the mine that were on at some time in [start, end), oldest first."""
    points = _point_codes(session, mine_id)
    rows = session.scalars(
        select(Alarm)
        .where(
            Alarm.mine_id == mine_id,
            Alarm.start < end,
            or_(Alarm.end.is_(None), Alarm.end >= start),
        )
        .order_by(Alarm.start, Alarm.id)
    )
    return [(a, None if a.point_id is None else points.get(a.point_id)) for a in rows]


def faults_in(
    session: Session, mine_id: int, start: datetime, end: datetime
) -> list[tuple[Fault, str | None]]:
    """Fault records of the mine open at some time in [start, end), oldest first."""
    points = _point_codes(session, mine_id)
    rows = session.scalars(
        select(Fault)
        .where(
            Fault.mine_id == mine_id,
            Fault.occurred_at < end,
            or_(Fault.recovered_at.is_(None), Fault.recovered_at >= start),
        )
        .order_by(Fault.occurred_at, Fault.id)
    )
    return [(f, None if f.point_id is None else points.get(f.point_id)) for f in rows]


def manual_in(
    session: Session, mine_id: int, start: datetime, end: datetime
) -> list[tuple[ManualProduction, str]]:
    """Manual production entries whose window overlaps [start, end)."""
    points = _point_codes(session, mine_id)
    rows = session.scalars(
        select(ManualProduction)
        .where(
            ManualProduction.mine_id == mine_id,
            ManualProduction.start < end,
            ManualProduction.end > start,
        )
        .order_by(ManualProduction.start, ManualProduction.id)
    )
    return [(m, points.get(m.point_id, "?")) for m in rows]


def revisions(session: Session, mine_id: int, day: date) -> list[ReportRevision]:
    return list(
        session.scalars(
            select(ReportRevision)
            .where(ReportRevision.mine_id == mine_id, ReportRevision.day == day)
            .order_by(ReportRevision.revision)
        )
    )


def latest(session: Session, mine_id: int, day: date) -> ReportRevision | None:
    return session.scalars(
        select(ReportRevision)
        .where(ReportRevision.mine_id == mine_id, ReportRevision.day == day)
        .order_by(ReportRevision.revision.desc())
        .limit(1)
    ).first()


def signatures(session: Session, revision_ids: Sequence[int]) -> dict[int, list[ReportSignature]]:
    out: dict[int, list[ReportSignature]] = {r: [] for r in revision_ids}
    if not revision_ids:
        return out
    for sig in session.scalars(
        select(ReportSignature)
        .where(ReportSignature.revision_id.in_(revision_ids))
        .order_by(ReportSignature.id)
    ):
        out[sig.revision_id].append(sig)
    return out


def role_codes(session: Session, user_id: int) -> set[str]:
    return set(
        session.scalars(
            select(Role.code)
            .join(UserRole, UserRole.role_id == Role.id)
            .where(UserRole.user_id == user_id)
        )
    )


def latest_unsubmitted(session: Session, mine_ids: Sequence[int]) -> list[ReportRevision]:
    """The latest revision of every (mine, day) not submitted yet, newest day first."""
    if not mine_ids:
        return []
    rows = session.scalars(
        select(ReportRevision)
        .where(ReportRevision.mine_id.in_(mine_ids))
        .order_by(ReportRevision.day.desc(), ReportRevision.revision.desc())
    )
    seen: set[tuple[int, date]] = set()
    out = []
    for rev in rows:
        key = (rev.mine_id, rev.day)
        if key in seen:
            continue
        seen.add(key)
        if rev.submitted_at is None:
            out.append(rev)
    return out


def reported(session: Session, days: Sequence[date]) -> set[tuple[int, date]]:
    """(mine_id, day) of every report of the given days: one query for all mines."""
    if not days:
        return set()
    rows = session.execute(
        select(ReportRevision.mine_id, ReportRevision.day)
        .where(ReportRevision.day.in_(sorted(set(days))))
        .distinct()
    )
    return {(mine_id, day) for mine_id, day in rows}
