"""Tables of authentication: API tokens and their rate buckets (the users and roles:
coalwatch.users.models)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
)
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


class ApiToken(Base):
    """A Bearer token for scripts and third parties; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scope_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    write: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "script" (read or write) or "third_party" (财政/税务/安监: always read-only)
    kind: Mapped[str] = mapped_column(String(16), server_default="script")
    #: requests per minute this token may make (a token bucket in the center); None: no limit
    rate_limit_per_min: Mapped[int | None] = mapped_column(Integer)
