"""All SQL of federation: the forward queue, downstream centers, rejected items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.federation.models import (
    DownstreamCenter,
    FaultMirror,
    FederationReject,
    ForwardItem,
    ReceivedReport,
)
from coalwatch.storage.models import Org


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


def fault_mirror(session: Session, origin: str) -> FaultMirror | None:
    return session.scalars(select(FaultMirror).where(FaultMirror.origin == origin)).first()


def received_report(
    session: Session, mine_id: int, day: date, revision: int
) -> ReceivedReport | None:
    return session.scalars(
        select(ReceivedReport).where(
            ReceivedReport.mine_id == mine_id,
            ReceivedReport.day == day,
            ReceivedReport.revision == revision,
        )
    ).first()


def queued_ids_between(session: Session, low: int, high: int) -> list[int]:
    return list(
        session.scalars(select(ForwardItem.id).where(ForwardItem.id >= low, ForwardItem.id <= high))
    )


def database_time(session: Session) -> datetime | None:
    """The server's clock on PostgreSQL (where a rolled-back id leaves a hole); None on
    SQLite, whose ids roll back with their transaction and never leave one."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    at: datetime = session.scalar(text("SELECT clock_timestamp()"))
    return at


def transactions_open_since(session: Session, at: datetime) -> bool:
    """Whether a transaction that began at or before ``at`` and wrote to the forward queue
    is still open (it may hold a queue id it has not committed yet): an INSERT holds the
    table's RowExclusiveLock until its transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    count = session.scalar(
        text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.relation = 'forward_queue'::regclass AND l.mode = 'RowExclusiveLock' "
            "AND l.pid <> pg_backend_pid() AND a.xact_start <= :at"
        ),
        {"at": at},
    )
    return bool(count)
