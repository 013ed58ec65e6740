"""The SQL of the ingest horizon (table ``ingest_horizons``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coalwatch.horizon.models import IngestHorizon


def note(session: Session, process: str, at: datetime, waiting_since: datetime | None) -> None:
    row = session.get(IngestHorizon, process)
    if row is None:
        session.add(IngestHorizon(process=process, beat_at=at, waiting_since=waiting_since))
    else:
        row.beat_at, row.waiting_since = at, waiting_since
    session.flush()


def oldest_waiting(session: Session, fresh_since: datetime) -> datetime | None:
    """The earliest arrival still waiting in a process that wrote since ``fresh_since``."""
    return session.scalar(
        select(func.min(IngestHorizon.waiting_since)).where(IngestHorizon.beat_at >= fresh_since)
    )


def forget(session: Session, process: str) -> None:
    session.execute(delete(IngestHorizon).where(IngestHorizon.process == process))
