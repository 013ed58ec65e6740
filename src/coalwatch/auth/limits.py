"""Rate limits per API token 接口限流: a token bucket per token, in the center's process.

A token limited to N requests per minute holds up to N requests' worth of credit
and earns N per minute back, continuously: a client may burst up to N requests,
then goes at N per minute. A request that finds less than one request's credit
is refused with the number of seconds until there is one again.

The buckets live in memory: each center process (and each machine of a hot
standby pair) limits on its own, and a restart forgives everything.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

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
            # a clock that went back earns nothing (and is not counted twice later)
            elapsed = max(0.0, (now - bucket.at).total_seconds())
            bucket.credit = min(float(per_min), bucket.credit + elapsed * per_min / 60)
            bucket.at = max(bucket.at, now)
            if bucket.credit >= 1:
                bucket.credit -= 1
                return None
            return max(1, math.ceil((1 - bucket.credit) * 60 / per_min))
