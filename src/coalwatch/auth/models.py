"""Tables of authentication beside the users' and tokens' (in coalwatch.storage.models).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class RateBucket(Base):
    """A rate-limited token's bucket 接口限流, shared by the center processes on one
    PostgreSQL (``coalwatch.auth.limits.DatabaseRateLimiter``)."""

    __tablename__ = "rate_buckets"

    #: the API token's id
    token_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    per_min: Mapped[int] = mapped_column(Integer)
    #: requests' worth of credit left at ``at`` (a fraction: it is earned continuously)
    credit: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
