"""Rate limits per API token 接口限流: a token bucket per token, in the center's process.

A token limited to N requests per minute holds up to N requests' worth of credit
and earns N per minute back, continuously: a client may burst up to N requests,
then goes at N per minute. A request that finds less than one request's credit
is refused with the number of seconds until there is one again.

On SQLite (one process) the buckets live in memory, and a restart forgives
everything. On PostgreSQL, where several processes and machines serve one center
(``serve --workers N``, a hot standby), they live in the database (``rate_buckets``):
each request of a rate-limited token reads and writes its bucket under a row lock, in
a short transaction of its own on a small pool of its own (so that it neither waits
for the request's pool nor holds the request's transaction), and the limit holds
whichever process answers.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.auth.models import RateBucket
from coalwatch.storage.session import DbTimeouts, make_engine

#: third-party tokens get this limit unless another is given
DEFAULT_THIRD_PARTY_PER_MIN = 60
MAX_PER_MIN = 100_000


@dataclass(slots=True)
class _Bucket:
    per_min: int
    credit: float
    at: datetime


class RateLimiter:
    """Token buckets keyed by token id; thread-safe (sync routes run in a thread pool)."""

    def __init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: int, per_min: int, now: datetime) -> int | None:
        """Spend one request's credit: None when allowed, else the seconds to wait (≥ 1)."""
        if per_min <= 0:
            raise ValueError("a rate limit is a positive number of requests per minute")
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.per_min != per_min:
                bucket = self._buckets[key] = _Bucket(per_min, float(per_min), now)
            return _spend(bucket, now)


def _spend(bucket: _Bucket, now: datetime) -> int | None:
    """Earn the credit since the bucket's time and spend one request: None when allowed,
    else the seconds to wait (≥ 1)."""
    per_min = bucket.per_min
    # a clock that went back earns nothing (and is not counted twice later)
    elapsed = max(0.0, (now - bucket.at).total_seconds())
    bucket.credit = min(float(per_min), bucket.credit + elapsed * per_min / 60)
    bucket.at = max(bucket.at, now)
    if bucket.credit >= 1:
        bucket.credit -= 1
        return None
    return max(1, math.ceil((1 - bucket.credit) * 60 / per_min))


class DatabaseRateLimiter(RateLimiter):
    """The buckets in ``rate_buckets`` (PostgreSQL): one limit across all processes."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def take(self, key: int, per_min: int, now: datetime) -> int | None:
        if per_min <= 0:
            raise ValueError("a rate limit is a positive number of requests per minute")
        with self._sessions.begin() as session:
            row = self._locked(session, key, per_min, now)
            bucket = _Bucket(row.per_min, row.credit, row.at)
            if bucket.per_min != per_min:
                bucket = _Bucket(per_min, float(per_min), now)
            wait = _spend(bucket, now)
            row.per_min, row.credit, row.at = bucket.per_min, bucket.credit, bucket.at
        return wait

    @staticmethod
    def _locked(session: Session, key: int, per_min: int, now: datetime) -> RateBucket:
        """The token's bucket, locked for this transaction (a full one made first)."""
        session.execute(
            insert(RateBucket)
            .values(token_id=key, per_min=per_min, credit=float(per_min), at=now)
            .on_conflict_do_nothing(index_elements=[RateBucket.token_id])
        )
        return session.execute(
            select(RateBucket).where(RateBucket.token_id == key).with_for_update()
        ).scalar_one()


def limiter_for(database_url: str, timeouts: DbTimeouts | None = None) -> RateLimiter:
    """In memory on SQLite (one process); in the database on PostgreSQL."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return RateLimiter()
    return DatabaseRateLimiter(make_engine(database_url, timeouts, pool_size=2, max_overflow=4))
