from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coalwatch.stationconfig.models import StationConfigRunning, StationConfigVersion
from coalwatch.storage.models import Mine, Org, Point, Station


def station_with_mine(session: Session, code: str) -> tuple[Station, Mine, Org] | None:
    row = session.execute(
        select(Station, Mine, Org)
        .join(Mine, Mine.id == Station.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(Station.code == code)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def latest(session: Session, station_id: int, count: int = 1) -> list[StationConfigVersion]:
    """The station's last ``count`` issues, newest first."""
    return list(
        session.scalars(
            select(StationConfigVersion)
            .where(StationConfigVersion.station_id == station_id)
            .order_by(StationConfigVersion.version.desc())
            .limit(count)
        )
    )


def last_issues(session: Session) -> list[tuple[int, int, str]]:
    """Every station's last issue: (station id, version, fingerprint)."""
    newest = (
        select(
            StationConfigVersion.station_id,
            func.max(StationConfigVersion.version).label("version"),
        )
        .group_by(StationConfigVersion.station_id)
        .subquery()
    )
    query = select(
        StationConfigVersion.station_id,
        StationConfigVersion.version,
        StationConfigVersion.fingerprint,
    ).join(
        newest,
        (newest.c.station_id == StationConfigVersion.station_id)
        & (newest.c.version == StationConfigVersion.version),
    )
    return [(int(s), int(v), str(f)) for s, v, f in session.execute(query)]


def running(session: Session, station_id: int) -> StationConfigRunning | None:
    return session.get(StationConfigRunning, station_id)


def point_codes(session: Session, mine_id: int) -> set[str]:
    return set(session.scalars(select(Point.code).where(Point.mine_id == mine_id)))
