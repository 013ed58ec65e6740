"""Tables of leader lease for background jobs (issue 9) (migration 0011).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
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
