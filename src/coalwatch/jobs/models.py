"""The background jobs' tables: the leader lease, the center's beat and its outages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class JobLease(Base):
    """A named lease 租约: while unexpired, only its holder runs that work (see jobs.leader).

    ``term`` grows by one each time the lease changes hands (a fencing number): a
    holder that lost the lease cannot renew it, even under the same name.
    """

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    term: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: when the holder last finished a round of the jobs (None: not yet in this term)
    last_round_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CenterBeat(Base):
    """When the center's background jobs last finished a round (one row per name).

    A round that comes much later than the one before means the center was away (its
    process down, its jobs stuck, its database unreachable): see ``CenterOutage``.
    """

    __tablename__ = "center_beats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CenterOutage(Base):
    """A time the center itself was not listening 中心停机: from its last round before the
    gap to the first after it. The timed rules do not count it against the stations."""

    __tablename__ = "center_outages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: which process noticed it, when it came back
    noticed_by: Mapped[str] = mapped_column(String(200))
