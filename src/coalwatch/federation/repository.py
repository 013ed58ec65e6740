"""All SQL of federation: the forward queue, downstream centers, rejected items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from coalwatch.storage.models import Alarm, DownstreamCenter, FederationReject, ForwardItem, Org


def queued(session: Session, limit: int) -> list[ForwardItem]:
    return list(session.scalars(select(ForwardItem).order_by(ForwardItem.id).limit(limit)))


def remove_queued(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(ForwardItem).where(ForwardItem.id.in_(list(ids))))


def center_for_update(session: Session, code: str) -> DownstreamCenter | None:
    """The center row, locked: one batch of a center at a time."""
    return session.scalars(
        select(DownstreamCenter).where(DownstreamCenter.code == code).with_for_update()
    ).first()


def centers_under(session: Session, scope_path: str | None) -> list[tuple[DownstreamCenter, Org]]:
    query = (
        select(DownstreamCenter, Org)
        .join(Org, Org.id == DownstreamCenter.org_id)
        .order_by(DownstreamCenter.code)
    )
    if scope_path is not None:
        query = query.where(Org.path.startswith(scope_path))
    return [(center, org) for center, org in session.execute(query)]


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def insert_rejects(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(FederationReject), rows)


def rejects_of(session: Session, center_id: int, limit: int) -> list[FederationReject]:
    return list(
        session.scalars(
            select(FederationReject)
            .where(FederationReject.center_id == center_id)
            .order_by(FederationReject.id.desc())
            .limit(limit)
        )
    )


def mirrored_alarm(session: Session, origin: str) -> Alarm | None:
    return session.scalars(select(Alarm).where(Alarm.origin == origin)).first()
