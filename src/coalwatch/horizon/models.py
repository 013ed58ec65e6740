"""The ingest horizon 接收水位: how far each center process has heard its stations.

Imported by coalwatch.storage.models, so that it is part of the metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class IngestHorizon(Base):
    """One center process whose station uploads wait (a backlog): since when the oldest
    of them waits. Written by the process while it lags (``coalwatch.horizon.service``)
    and read by the timed rules: a station cannot be judged silent after a moment the
    center has not yet caught up with."""

    __tablename__ = "ingest_horizons"

    #: the process (host:pid:tag)
    process: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: when the process last wrote the row: a row not renewed is of a process gone
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the arrival of its oldest upload still unanswered (None: caught up)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
