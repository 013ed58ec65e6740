from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.signals.models import SignalChoice
from coalwatch.storage.models import Org


def choices_for(session: Session, mine_id: int, org_ids: Sequence[int]) -> list[SignalChoice]:
    """The mine's own choice and those of the orgs above it."""
    return list(
        session.scalars(
            select(SignalChoice).where(
                or_(SignalChoice.mine_id == mine_id, SignalChoice.org_id.in_(org_ids))
            )
        )
    )


def choice_of(
    session: Session, *, org_id: int | None = None, mine_id: int | None = None
) -> SignalChoice | None:
    if org_id is not None:
        return session.scalar(select(SignalChoice).where(SignalChoice.org_id == org_id))
    return session.scalar(select(SignalChoice).where(SignalChoice.mine_id == mine_id))


def unacknowledged(
    session: Session, mine_id: int, types: Sequence[str], station_id: int
) -> list[tuple[int, int | None]]:
    """(id, point id) of the mine's alarms of these types nobody has acknowledged yet
    (of its points, of this station, or of the mine as a whole)."""
    rows = session.execute(
        select(Alarm.id, Alarm.point_id)
        .where(
            Alarm.mine_id == mine_id,
            Alarm.state == "active",
            Alarm.type.in_(types),
            Alarm.origin.is_(None),
            or_(Alarm.station_id.is_(None), Alarm.station_id == station_id),
        )
        .order_by(Alarm.id)
    )
    return [(int(i), p) for i, p in rows]


def org_by_code(session: Session, code: str) -> Org | None:
    return session.scalar(select(Org).where(Org.code == code))


def org_kind(session: Session, path: str) -> str | None:
    return session.scalar(select(Org.kind).where(Org.path == path))
