"""The demo's history: what a mine's station would have sent since the start of last month.

Readings of a realistic load profile (three 8-hour shifts with stops, noise, a
mine that pushes above its hourly capacity now and then) are turned into
records with sequence numbers and signed batches in the real upload format.
Like the real station, this module uses only ``coalwatch.wire`` and the
standard library.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import sign

log = logging.getLogger("coalwatch.demo.history")

#: a BW500-style total is a UINT32 of kilograms: it wraps at 2^32 kg
BW500_MODULUS_KG = 2**32
BATCH_RECORDS = 500
SHIFT_MIN = 8 * 60
#: the belt stops this long before and after a shift change 交接班
HANDOVER_BEFORE_MIN = 20
HANDOVER_AFTER_MIN = 25
#: load of the three shifts as a share of H: the first is the maintenance shift 检修班
SHIFT_LEVELS = (0.35, 0.9, 0.85)
TRIP_KG = (8_000, 12_000)
#: the share of days on which a pushing mine runs above H (a few 超产 days a month)
PUSH_DAY_SHARE = 0.12

Kind = Literal["belt", "skip"]


def _tonnes(kg: int) -> Decimal:
    return Decimal(kg).scaleb(-3)


@dataclass(frozen=True)
class Profile:
    """How a mine works: its hourly capacity H, its shift times and its habits."""

    hourly_capacity_tph: float
    tz: ZoneInfo
    seed: str
    #: shifts start at 00:00, 08:00, 16:00 plus this (a whole number of hours)
    shift_offset_min: int = 0
    #: runs above H in the full hours of the production shifts on a few days (超产 for the demo)
    pushes: bool = False

    def rate_tph(self, at: datetime) -> float:
        """The mine's target output rate at an instant (t/h), before minute noise."""
        local = at.astimezone(self.tz)
        minute = (local.hour * 60 + local.minute - self.shift_offset_min) % 1440
        shift, into = divmod(minute, SHIFT_MIN)
        if into < HANDOVER_AFTER_MIN or into >= SHIFT_MIN - HANDOVER_BEFORE_MIN:
            return 0.0
        draw = _hour_draw(self.seed, local.date(), local.hour)
        if draw.stop_from <= local.minute < draw.stop_to:
            return 0.0
        full_hour = 1 <= into // 60 <= 6
        if self.pushes and shift > 0 and full_hour and pushing_day(self.seed, local.date()):
            return self.hourly_capacity_tph * draw.push
        return self.hourly_capacity_tph * SHIFT_LEVELS[shift] * draw.factor


@dataclass(frozen=True)
class _HourDraw:
    factor: float
    #: an unplanned stop 临时停机 in minutes of the hour (empty when from == to)
    stop_from: int
    stop_to: int
    #: the load when a pushing mine pushes this hour (× H)
    push: float


@functools.lru_cache(maxsize=4096)
def _hour_draw(seed: str, day: date, hour: int) -> _HourDraw:
    # Seeded by the hour, so the backfill and the live feed agree and a
    # restart replays the same day.
    rng = random.Random(f"{seed}|{day.isoformat()}|{hour}")
    factor = rng.uniform(0.88, 1.04)
    if rng.random() < 0.05:
        start = rng.randrange(0, 50)
        return _HourDraw(factor, start, start + rng.randrange(5, 20), 1.0)
    return _HourDraw(factor, 0, 0, rng.uniform(1.14, 1.25))


@functools.lru_cache(maxsize=1024)
def pushing_day(seed: str, day: date) -> bool:
    """Whether a pushing mine runs above its hourly capacity on this day: such a day's
    output also exceeds the daily capacity D, so the demo has a few overproduction days
    rather than scattered hours every day."""
    return random.Random(f"{seed}|{day.isoformat()}|push").random() < PUSH_DAY_SHARE


@dataclass
class SimPoint:
    """One metering point: a belt scale's totalizer, or a skip that reports trips."""

    code: str
    kind: Kind
    #: this point's share of the mine's output
    share: float
    total_kg: int = 0
    modulus_kg: int = BW500_MODULUS_KG
    produced_kg: int = 0
    running: bool | None = None
    started: bool = False
    load_kg: float = 0.0
    next_trip_kg: int = 10_000


@dataclass
class StandInStation:
    """A station's state: its key, its points, its seq and the records not yet acknowledged."""

    code: str
    key: Ed25519PrivateKey
    profile: Profile
    points: Sequence[SimPoint]
    next_seq: int = 1
    last_ts: datetime | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    heartbeat_every: timedelta | None = None
    last_heartbeat: datetime | None = None

    def __post_init__(self) -> None:
        self._noise = random.Random(f"{self.profile.seed}|noise")
        for point in self.points:
            point.next_trip_kg = self._noise.randint(*TRIP_KG)

    @property
    def produced_kg(self) -> int:
        """Everything the instruments measured since their first reading."""
        return sum(point.produced_kg for point in self.points)

    def _record(self, ts: datetime, **fields: Any) -> None:
        self.pending.append({"seq": self.next_seq, "ts": ts, **fields})
        self.next_seq += 1

    def sample_until(self, end: datetime, step: timedelta, limit: int | None = None) -> int:
        """Read the instruments every ``step`` after the last reading up to ``end``.

        Stops early once ``limit`` records wait to be sent. Returns the number
        of instants sampled.
        """
        ts = self.last_ts + step if self.last_ts is not None else end
        sampled = 0
        while ts <= end and (limit is None or len(self.pending) < limit):
            self._sample(ts.astimezone(self.profile.tz), step)
            self.last_ts = ts
            ts += step
            sampled += 1
        return sampled

    def _sample(self, ts: datetime, step: timedelta) -> None:
        rate = self.profile.rate_tph(ts)
        if rate > 0:
            rate = max(0.0, rate * (1 + self._noise.gauss(0, 0.04)))
        tonnes_per_h_to_kg = step.total_seconds() / 3.6
        for point in self.points:
            running = rate > 0
            if running != point.running:
                self._record(ts, type="conveyor", point=point.code, running=running)
                point.running = running
            point_rate = rate * point.share
            kg = round(point_rate * tonnes_per_h_to_kg) if point.started else 0
            if point.kind == "belt":
                point.total_kg = (point.total_kg + kg) % point.modulus_kg
                point.produced_kg += kg
                self._record(
                    ts,
                    type="totalizer",
                    point=point.code,
                    total_t=_tonnes(point.total_kg),
                    flow_tph=Decimal(f"{point_rate:.1f}"),
                )
            else:
                point.load_kg += kg
                # a coarse reading may cover several trips
                while point.load_kg >= point.next_trip_kg:
                    point.load_kg -= point.next_trip_kg
                    point.produced_kg += point.next_trip_kg
                    self._record(
                        ts, type="trip", point=point.code, net_t=_tonnes(point.next_trip_kg)
                    )
                    point.next_trip_kg = self._noise.randint(*TRIP_KG)
            point.started = True
        if self.heartbeat_every is not None and (
            self.last_heartbeat is None or ts - self.last_heartbeat >= self.heartbeat_every
        ):
            self._record(ts, type="heartbeat")
            self.last_heartbeat = ts

    def next_upload(self, now: datetime, size: int = BATCH_RECORDS) -> tuple[bytes, str] | None:
        """The body and signature of the next batch: the oldest unacknowledged records."""
        if not self.pending:
            return None
        body = encode_batch(self.code, now.astimezone(self.profile.tz), self.pending[:size])
        return body, sign(self.key, body)

    def on_answer(self, answer: Mapping[str, Any]) -> None:
        """Forget what the center holds; keep what it lacks (a gap) or has not seen yet."""
        acked = int(answer["acked_seq"])
        gaps = [(int(a), int(b)) for a, b in answer.get("gaps", [])]
        for rejected in answer.get("rejected", []):
            # The center keeps a rejected record in quarantine: sending it again changes nothing.
            log.warning(
                "station %s: record %s rejected: %s",
                self.code,
                rejected.get("seq"),
                rejected.get("reason"),
            )

        def held(seq: int) -> bool:
            return seq <= acked and not any(a <= seq <= b for a, b in gaps)

        self.pending = [record for record in self.pending if not held(record["seq"])]


Post = Callable[[str, bytes, str], Mapping[str, Any]]
