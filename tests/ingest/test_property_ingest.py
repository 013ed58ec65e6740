"""Property: whatever the readings and however they arrive, every hour and every day the
figures API shows is exactly the sum of the true increments whose (later) sample falls in
it, bucketed here independently of the program (local time is UTC+08:00 all year in
Shanghai: hour = floor((epoch seconds + 8 h) / 1 h)); and the days sum to the total."""

from __future__ import annotations

import random
import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.world import totalizer, world

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 13, 21, 0, tzinfo=SH)  # spans two local midnights
R_KG = 10_000_000  # rollover at 10,000 t
UTC8_S = 8 * 3600


def local_hour_key(ts: datetime) -> int:
    """The local hour of ``ts`` as a number: whole hours since 1970-01-01 00:00 local."""
    return (int(ts.timestamp()) + UTC8_S) // 3600


def local_day_key(ts: datetime) -> int:
    return (int(ts.timestamp()) + UTC8_S) // 86_400


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 3600), st.integers(0, 40_000)), min_size=2, max_size=60
    ),
    start_kg=st.integers(0, R_KG - 1),
    shuffle_seed=st.integers(0, 2**32),
    batch=st.integers(1, 25),
)
def test_hours_sum_to_days_sum_to_increments(
    sqlite_template: Path,
    tmp_path_factory: object,
    steps: list[tuple[int, int]],
    start_kg: int,
    shuffle_seed: int,
    batch: int,
) -> None:
    # readings: every gap of 1 s – 1 h, each true increment 0 – 40 t, wrapping at R
    readings = [(START, start_kg)]
    for gap_s, inc in steps:
        ts, kg = readings[-1]
        readings.append((ts + timedelta(seconds=gap_s), (kg + inc) % R_KG))
    true_total = sum(inc for _, inc in steps)
    # the oracle: each true increment in the hour and the day of its later sample
    by_hour: dict[int, int] = defaultdict(int)
    by_day: dict[int, int] = defaultdict(int)
    for (ts, _), (_, inc) in zip(readings[1:], steps, strict=True):
        by_hour[local_hour_key(ts)] += inc
        by_day[local_day_key(ts)] += inc
    records = [
        totalizer(i + 1, ts, "B1", Decimal(kg).scaleb(-3)) for i, (ts, kg) in enumerate(readings)
    ]
    random.Random(shuffle_seed).shuffle(records)

    folder = Path(str(tmp_path_factory.mktemp("prop")))  # type: ignore[attr-defined]
    shutil.copy(sqlite_template, folder / "db.sqlite")
    with world(f"sqlite:///{folder / 'db.sqlite'}", now=readings[-1][0] + timedelta(hours=1)) as w:
        w.mine("M1", rollover_t="10000")
        for i in range(0, len(records), batch):
            w.ok(w.upload("S1", records[i : i + batch]))
        span = {
            "from": START.replace(hour=0).isoformat(),
            "to": (readings[-1][0] + timedelta(days=1))
            .replace(hour=0, minute=0, second=0)
            .isoformat(),
        }
        days = w.ok(w.get("/mines/M1/production", period="day", **span))["items"]
        shown_days = {
            local_day_key(datetime.fromisoformat(d["start"]).astimezone(UTC)): d for d in days
        }
        assert set(by_day) <= set(shown_days)
        day_total = Decimal(0)
        for key, day in shown_days.items():
            assert Decimal(str(day["gross_t"])) == Decimal(by_day.get(key, 0)).scaleb(-3), day
            start = datetime.fromisoformat(day["start"])
            hours = w.ok(
                w.get(
                    "/mines/M1/production",
                    period="hour",
                    **{"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()},
                )
            )["items"]
            assert len(hours) == 24
            for hour in hours:
                at = local_hour_key(datetime.fromisoformat(hour["start"]))
                expected = Decimal(by_hour.get(at, 0)).scaleb(-3)
                assert Decimal(str(hour["gross_t"])) == expected, hour
            assert sum(Decimal(str(h["gross_t"])) for h in hours) == Decimal(str(day["gross_t"]))
            day_total += Decimal(str(day["gross_t"]))
        assert day_total == Decimal(true_total).scaleb(-3)
