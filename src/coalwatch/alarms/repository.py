from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.storage.models import Mine, Org, Point

OPEN_STATES = ("active", "acknowledged", "handled")


def current(
    session: Session,
    mine_id: int | None,
    type_: str,
    point_id: int | None,
    station_id: int | None,
    subject: str | None,
) -> Alarm | None:
    """The alarm of this kind whose condition has not ended yet, if any."""
    return session.scalars(
        select(Alarm).where(
            Alarm.mine_id.is_(None) if mine_id is None else Alarm.mine_id == mine_id,
            Alarm.type == type_,
            Alarm.point_id.is_(None) if point_id is None else Alarm.point_id == point_id,
            Alarm.station_id.is_(None) if station_id is None else Alarm.station_id == station_id,
            Alarm.subject.is_(None) if subject is None else Alarm.subject == subject,
            Alarm.end.is_(None),
        )
    ).first()


def org_kind(session: Session, path: str) -> str | None:
    return session.scalar(select(Org.kind).where(Org.path == path))


def mines_with_open(session: Session, type_: str) -> set[int | None]:
    return set(
        session.scalars(select(Alarm.mine_id).where(Alarm.type == type_, Alarm.end.is_(None)))
    )


def ongoing(
    session: Session, mine_id: int, types: tuple[str, ...], point_id: int | None = None
) -> list[Alarm]:
    query = select(Alarm).where(
        Alarm.mine_id == mine_id, Alarm.type.in_(types), Alarm.end.is_(None)
    )
    if point_id is not None:
        query = query.where(Alarm.point_id == point_id)
    return list(session.scalars(query))


def ongoing_keys_of_mine(
    session: Session, mine_id: int
) -> list[tuple[str, int | None, int | None, str | None]]:
    """(type, point, station, subject) of a mine's alarms whose condition has not ended."""
    return [
        (type_, point_id, station_id, subject)
        for type_, point_id, station_id, subject in session.execute(
            _ONGOING_KEYS_OF_MINE, {"mine_id": mine_id}
        )
    ]


def ongoing_keys_by_mine(
    session: Session,
) -> dict[int, frozenset[tuple[str, int | None, int | None, str | None]]]:
    """Every mine's (type, point, station, subject) of its alarms whose condition has not
    ended; a mine with none, an empty set."""
    found: dict[int, set[tuple[str, int | None, int | None, str | None]]] = {
        mine_id: set() for mine_id in session.scalars(select(Mine.id))
    }
    for mine_id, type_, point_id, station_id, subject in ongoing_keys(session):
        if mine_id is not None:
            found.setdefault(mine_id, set()).add((type_, point_id, station_id, subject))
    return {mine_id: frozenset(keys) for mine_id, keys in found.items()}


def ongoing_keys(
    session: Session,
) -> list[tuple[int | None, str, int | None, int | None, str | None]]:
    """(mine, type, point, station, subject) of every alarm whose condition has not ended."""
    return [
        (mine_id, type_, point_id, station_id, subject)
        for mine_id, type_, point_id, station_id, subject in session.execute(_ONGOING_KEYS)
    ]


#: read for every batch: built once
_ONGOING_KEYS_OF_MINE = select(Alarm.type, Alarm.point_id, Alarm.station_id, Alarm.subject).where(
    Alarm.mine_id == bindparam("mine_id"), Alarm.end.is_(None)
)
#: read for every round of the timed rules: built once
_ONGOING_KEYS = select(
    Alarm.mine_id, Alarm.type, Alarm.point_id, Alarm.station_id, Alarm.subject
).where(Alarm.end.is_(None))


def expired(session: Session, now: datetime) -> list[Alarm]:
    return list(
        session.scalars(
            select(Alarm).where(
                Alarm.end.is_(None), Alarm.expires_at.is_not(None), Alarm.expires_at <= now
            )
        )
    )


def add(session: Session, alarm: Alarm) -> None:
    session.add(alarm)
    session.flush()


def add_unless_open(session: Session, alarm: Alarm) -> bool:
    """Insert a new alarm unless its condition is open already (``uq_alarms_open_condition``):
    False when another transaction holds it. In a savepoint, so that the refusal leaves
    the caller's transaction usable; on PostgreSQL the insert waits for a concurrent
    one of the same condition to commit or roll back, then knows."""
    try:
        with session.begin_nested():
            session.add(alarm)
    except IntegrityError as exc:
        if "uq_alarms_open_condition" not in str(exc):
            raise
        return False
    return True


def query(
    scope_path: str | None,
    mine: str | None,
    type_: str | None,
    state: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Select[Alarm, str, str]:
    # an alarm of the center itself (no mine) is seen by whole-tree users only
    statement = (
        select(Alarm, Mine.code, Point.code)
        .outerjoin(Mine, Mine.id == Alarm.mine_id)
        .outerjoin(Org, Org.id == Mine.org_id)
        .outerjoin(Point, Point.id == Alarm.point_id)
        .order_by(Alarm.start.desc(), Alarm.id.desc())
    )
    if scope_path is not None:
        statement = statement.where(Org.path.startswith(scope_path, autoescape=True))
    if mine is not None:
        statement = statement.where(Mine.code == mine)
    if type_ is not None:
        statement = statement.where(Alarm.type == type_)
    if state is not None:
        statement = statement.where(Alarm.state == state)
    if start is not None:
        statement = statement.where(Alarm.start >= start)
    if end is not None:
        statement = statement.where(Alarm.start < end)
    return statement


def listed(
    session: Session, statement: Select[Alarm, str, str], limit: int
) -> list[tuple[Alarm, str | None, str | None]]:
    return [(alarm, mine, point) for alarm, mine, point in session.execute(statement.limit(limit))]


def with_codes(
    session: Session, alarm_id: int
) -> tuple[Alarm, Mine | None, Org | None, str | None] | None:
    row = session.execute(
        select(Alarm, Mine, Org, Point.code)
        .outerjoin(Mine, Mine.id == Alarm.mine_id)
        .outerjoin(Org, Org.id == Mine.org_id)
        .outerjoin(Point, Point.id == Alarm.point_id)
        .where(Alarm.id == alarm_id)
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


def open_counts(session: Session, mine_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per mine: (open alarms, of which not yet acknowledged)."""
    if not mine_ids:
        return {}
    rows = session.execute(
        select(Alarm.mine_id, Alarm.state, func.count())
        .where(Alarm.mine_id.in_(mine_ids), Alarm.state != "closed")
        .group_by(Alarm.mine_id, Alarm.state)
    ).all()
    out: dict[int, tuple[int, int]] = {}
    for mine_id, state, count in rows:
        if mine_id is None:
            continue
        total, unacked = out.get(mine_id, (0, 0))
        out[mine_id] = (total + int(count), unacked + (int(count) if state == "active" else 0))
    return out


def open_alarms(
    session: Session, mine_ids: Sequence[int], limit: int
) -> list[tuple[Alarm, str, str, str | None]]:
    """The newest alarms not closed yet: (alarm, mine code, mine name, point code)."""
    if not mine_ids:
        return []
    rows = session.execute(
        select(Alarm, Mine.code, Mine.name, Point.code)
        .join(Mine, Mine.id == Alarm.mine_id)
        .outerjoin(Point, Point.id == Alarm.point_id)
        .where(Alarm.mine_id.in_(mine_ids), Alarm.state != "closed")
        .order_by(Alarm.start.desc(), Alarm.id.desc())
        .limit(limit)
    )
    return [(a, code, name, point) for a, code, name, point in rows]


def unacknowledged(session: Session, scope_path: str | None) -> tuple[int, int | None]:
    """Alarms in scope waiting for acknowledgement: (how many, the newest id)."""
    statement = (
        select(func.count(), func.max(Alarm.id))
        .select_from(Alarm)
        .outerjoin(Mine, Mine.id == Alarm.mine_id)
        .outerjoin(Org, Org.id == Mine.org_id)
        .where(Alarm.state == "active")
    )
    if scope_path is not None:
        statement = statement.where(Org.path.startswith(scope_path, autoescape=True))
    count, newest = session.execute(statement).one()
    return int(count or 0), None if newest is None else int(newest)


def browse_query(
    scope_path: str | None,
    *,
    mine: str | None,
    type_: str | None,
    states: Sequence[str] | None,
    severity: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Select[Alarm, str, str, str]:
    """The alarm console's and query page's rows: (alarm, mine code, mine name, point code)."""
    statement = (
        select(Alarm, Mine.code, Mine.name, Point.code)
        .outerjoin(Mine, Mine.id == Alarm.mine_id)
        .outerjoin(Org, Org.id == Mine.org_id)
        .outerjoin(Point, Point.id == Alarm.point_id)
        .order_by(Alarm.start.desc(), Alarm.id.desc())
    )
    if scope_path is not None:
        statement = statement.where(Org.path.startswith(scope_path, autoescape=True))
    if mine:
        statement = statement.where(Mine.code == mine)
    if type_:
        statement = statement.where(Alarm.type == type_)
    if states:
        statement = statement.where(Alarm.state.in_(states))
    if severity:
        statement = statement.where(Alarm.severity == severity)
    if start is not None:
        statement = statement.where(Alarm.start >= start)
    if end is not None:
        statement = statement.where(Alarm.start < end)
    return statement


def browse(
    session: Session, statement: Select[Alarm, str, str, str], offset: int, limit: int
) -> tuple[list[tuple[Alarm, str | None, str | None, str | None]], int]:
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.execute(statement.offset(offset).limit(limit))
    return [(a, code, name, point) for a, code, name, point in rows], int(total or 0)
