"""A station whose clock is wrong: silence is measured on the center's clock, the skew
is its own alarm, and no production is lost to a clock ahead of time.

Clock: 2026-03-15 12:00 Asia/Shanghai (04:00 UTC). Thresholds by default: no data
while running after 10 min, communication lost after 3 min, skew tolerated 60 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.support.world import World, totalizer, trip, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=T0) as w:
        w.mine("M1", capacity_t=330000, trips=("K1",))
        yield w


def _faults(w: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = w.ok(w.get("/faults"))["items"]
    return items


def test_a_station_three_hours_slow_raises_no_silence_alarm(w: World) -> None:
    skew = timedelta(hours=-3)
    s1 = w.stations["S1"]
    for i in range(7):  # a minute of rounds, 10 s apart, a batch before each
        station_now = w.clock() + skew
        seq_a, seq_b = s1.seqs(2)
        batch = [
            {"seq": seq_a, "ts": station_now, "type": "conveyor", "point": "B1", "running": True},
            totalizer(seq_b, station_now, "B1", Decimal(100) + i),
        ]
        w.ok(w.upload("S1", batch, sent_at=station_now))
        w.tick()
        w.clock.advance(seconds=10)
    # data arrived every 10 s: nothing was silent
    assert w.alarms(type="no_data_while_running") == []
    assert w.alarms(type="comm_interruption") == []
    assert _faults(w) == []
    # the skew itself: one alarm, −10,800 s (3 h) against the 60 s tolerated
    [skew_alarm] = w.alarms(type="clock_skew")
    assert (skew_alarm["value"], skew_alarm["threshold"]) == ("-10800 s", "60 s")


def test_a_station_five_minutes_fast_loses_no_trip(w: World) -> None:
    ahead = w.clock() + timedelta(minutes=5)
    s1 = w.stations["S1"]
    trips = [trip(seq, ahead + timedelta(seconds=seq), "K1", "10.16") for seq in s1.seqs(4)]
    answer = w.ok(w.upload("S1", trips, sent_at=ahead))
    assert answer["rejected"] == [] and answer["acked_seq"] == 4
    # 4 trips × 10.16 t = 40.64 t, counted at the center's receipt time (today, 12:00)
    summary = w.ok(w.get("/mines/M1/summary"))["day"]
    assert Decimal(str(summary["gross_t"])) == Decimal("40.64")
    kept = w.ok(w.get("/mines/M1/records", point="K1", type="trip"))["items"]
    # each at its receipt time (12:00), the station's own time beside it (12:05:0n)
    assert sorted((r["ts"], r["station_ts"]) for r in kept) == [
        ("2026-03-15T04:00:00Z", f"2026-03-15T04:05:0{n}Z") for n in (1, 2, 3, 4)
    ]
    # the skew shows while the clock is wrong; nothing was invalid
    assert len(w.alarms(type="clock_skew")) == 1
    assert w.alarms(type="invalid_data") == []
