from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.signals.models import SignalChoice
from coalwatch.storage.models import Mine, Org


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


def every_choice(session: Session) -> list[SignalChoice]:
    return list(session.scalars(select(SignalChoice).order_by(SignalChoice.id)))


def mine_org_paths(session: Session) -> list[tuple[int, str]]:
    """(mine id, its org's path) of every mine."""
    rows = session.execute(select(Mine.id, Org.path).join(Org, Mine.org_id == Org.id))
    return [(int(mine_id), str(path)) for mine_id, path in rows]


#: (mine, id, point, type, station) of the alarms nobody has acknowledged yet, raised here
_UNACKNOWLEDGED = (
    select(Alarm.mine_id, Alarm.id, Alarm.point_id, Alarm.type, Alarm.station_id)
    .where(Alarm.state == "active", Alarm.origin.is_(None))
    .order_by(Alarm.id)
)
Unacknowledged = tuple[int, int | None, str, int | None]


def unacknowledged(session: Session, mine_id: int | None = None) -> dict[int, list[Unacknowledged]]:
    """Per mine (every mine, or mine ``mine_id``), (id, point id, type, station id) of its
    alarms raised here that nobody has acknowledged yet, oldest first."""
    if mine_id is None:
        query = _UNACKNOWLEDGED
        found: dict[int, list[Unacknowledged]] = {m: [] for m in session.scalars(select(Mine.id))}
    else:
        query = _UNACKNOWLEDGED.where(Alarm.mine_id == mine_id)
        found = {mine_id: []}
    for mine, alarm_id, point_id, type_, station_id in session.execute(query):
        if mine is not None:
            found.setdefault(mine, []).append((alarm_id, point_id, type_, station_id))
    return found


def org_by_code(session: Session, code: str) -> Org | None:
    return session.scalar(select(Org).where(Org.code == code))


def org_kind(session: Session, path: str) -> str | None:
    return session.scalar(select(Org.kind).where(Org.path == path))
