"""Property: whatever the readings and however they arrive, the hours of a day sum to
the day, and the days to the sum of the true increments, exactly (through ingest,
storage and the figures API)."""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.world import totalizer, world

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 13, 21, 0, tzinfo=SH)  # spans two local midnights
R_KG = 10_000_000  # rollover at 10,000 t


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
        day_total = Decimal(0)
        for day in days:
            start = datetime.fromisoformat(day["start"])
            hours = w.ok(
                w.get(
                    "/mines/M1/production",
                    period="hour",
                    **{"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()},
                )
            )["items"]
            assert sum(Decimal(str(h["gross_t"])) for h in hours) == Decimal(str(day["gross_t"]))
            day_total += Decimal(str(day["gross_t"]))
        assert day_total == Decimal(true_total).scaleb(-3)
