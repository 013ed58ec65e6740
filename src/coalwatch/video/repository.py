from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.storage.models import Mine, Org, Point
from coalwatch.video.models import Camera, Snapshot


def add(session: Session, row: Camera | Snapshot) -> None:
    session.add(row)
    session.flush()


def camera_by_code(session: Session, point_id: int, code: str) -> Camera | None:
    return session.scalars(
        select(Camera).where(Camera.point_id == point_id, Camera.code == code)
    ).first()


def cameras_of_point(session: Session, point_id: int) -> list[Camera]:
    return list(
        session.scalars(select(Camera).where(Camera.point_id == point_id).order_by(Camera.code))
    )


def cameras_of_mine(session: Session, mine_id: int) -> list[tuple[Camera, Point]]:
    rows = session.execute(
        select(Camera, Point)
        .join(Point, Point.id == Camera.point_id)
        .where(Camera.mine_id == mine_id)
        .order_by(Point.code, Camera.code)
    )
    return [(camera, point) for camera, point in rows]


def enabled_cameras(session: Session) -> list[tuple[Camera, Point, Mine]]:
    rows = session.execute(
        select(Camera, Point, Mine)
        .join(Point, Point.id == Camera.point_id)
        .join(Mine, Mine.id == Camera.mine_id)
        .where(Camera.enabled.is_(True))
        .order_by(Camera.id)
    )
    return [(camera, point, mine) for camera, point, mine in rows]


def camera_with_place(session: Session, camera_id: int) -> tuple[Camera, Point, Mine, Org] | None:
    row = session.execute(
        select(Camera, Point, Mine, Org)
        .join(Point, Point.id == Camera.point_id)
        .join(Mine, Mine.id == Camera.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(Camera.id == camera_id)
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


def newest_alarm_id(session: Session, point_id: int | None = None) -> int:
    """The highest alarm id (of a point); 0 when there is none."""
    query = select(func.max(Alarm.id))
    if point_id is not None:
        query = query.where(Alarm.point_id == point_id)
    return int(session.scalar(query) or 0)


def newest_alarm_ids(session: Session, after: int, point_ids: Iterable[int]) -> dict[int, int]:
    """Per point, its newest alarm with an id above ``after`` (a range of the key: the
    alarms since the last round, not the whole table)."""
    rows = session.execute(
        select(Alarm.point_id, func.max(Alarm.id))
        .where(Alarm.id > after, Alarm.point_id.in_(list(point_ids)))
        .group_by(Alarm.point_id)
    )
    return {point_id: int(newest) for point_id, newest in rows if point_id is not None}


def snapshots(
    session: Session,
    point_id: int,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    newest_first: bool = False,
) -> list[tuple[Snapshot, str]]:
    """A point's pictures in [start, end), with the camera's code."""
    query = (
        select(Snapshot, Camera.code)
        .join(Camera, Camera.id == Snapshot.camera_id)
        .where(Snapshot.point_id == point_id)
    )
    if start is not None:
        query = query.where(Snapshot.taken_at >= start)
    if end is not None:
        query = query.where(Snapshot.taken_at < end)
    order = Snapshot.taken_at.desc() if newest_first else Snapshot.taken_at
    query = query.order_by(order, Snapshot.id).limit(limit)
    return [(snapshot, code) for snapshot, code in session.execute(query)]


def snapshot_with_place(
    session: Session, snapshot_id: int
) -> tuple[Snapshot, Camera, Point, Mine, Org] | None:
    row = session.execute(
        select(Snapshot, Camera, Point, Mine, Org)
        .join(Camera, Camera.id == Snapshot.camera_id)
        .join(Point, Point.id == Snapshot.point_id)
        .join(Mine, Mine.id == Snapshot.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(Snapshot.id == snapshot_id)
    ).first()
    return (row[0], row[1], row[2], row[3], row[4]) if row else None


def latest_snapshot(session: Session, camera_id: int) -> Snapshot | None:
    return session.scalars(
        select(Snapshot)
        .where(Snapshot.camera_id == camera_id)
        .order_by(Snapshot.taken_at.desc(), Snapshot.id.desc())
        .limit(1)
    ).first()


def total_size(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Snapshot.size), 0))) or 0)


def oldest(session: Session, limit: int) -> list[Snapshot]:
    return list(
        session.scalars(select(Snapshot).order_by(Snapshot.taken_at, Snapshot.id).limit(limit))
    )


def delete_snapshots(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(Snapshot).where(Snapshot.id.in_(ids)))
