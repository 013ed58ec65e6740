"""The center stopped for five minutes, then restarted: its stations are not blamed for
the silence it could not hear, and the absence is recorded once, as the center's.

The jobs take their ``now``: the five minutes are the clock's, not waited for. Default
thresholds: communication lost after 3 min; rounds every 10 s, an absence after 6
missed rounds (at least 1 min); stations given 2 min to find the center again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from coalwatch.jobs.scheduler import run_round
from tests.support.world import World, totalizer, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
INTERVAL_S = 10.0


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=T0) as w:
        w.mine("M1")
        yield w


def _round(w: World) -> None:
    state = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    run_round(state.sessions, state.broker, w.clock(), INTERVAL_S, "test-center")


def _send(w: World) -> None:
    [seq] = w.stations["S1"].seqs(1)
    w.ok(w.upload("S1", [totalizer(seq, w.clock(), "B1", seq)]))


def _faults(w: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = w.ok(w.get("/faults"))["items"]
    return items


def test_a_center_stopped_five_minutes_blames_no_station(w: World) -> None:
    _send(w)
    _round(w)
    w.clock.advance(seconds=10)
    _round(w)
    # the center stops at 04:00:10 and starts again at 04:05:10
    w.clock.advance(minutes=5)
    _round(w)
    assert w.alarms(type="comm_interruption") == []
    assert _faults(w) == []
    # the station's back-off finds the center 40 s later
    w.clock.advance(seconds=40)
    _send(w)
    _round(w)
    assert w.alarms(type="comm_interruption") == [] and _faults(w) == []
    [outage] = w.ok(w.get("/jobs/outages"))
    # from the last beat before (04:00:10) to the first after (04:05:10): 300 s
    assert (outage["start"], outage["end"], outage["seconds"]) == (
        "2026-03-15T04:00:10Z",
        "2026-03-15T04:05:10Z",
        300,
    )


def test_a_station_still_silent_after_the_grace_is_alarmed(w: World) -> None:
    _send(w)  # heard at 04:00:00
    _round(w)
    w.clock.advance(minutes=5)  # the center away 04:00:00 – 04:05:00
    _round(w)
    # listening again from 04:05 + 2 min grace = 04:07; silent 3 min more: 04:10
    for _ in range(10):  # rounds every 30 s until 04:10:00: exactly 3 min, not more
        w.clock.advance(seconds=30)
        _round(w)
    assert w.alarms(type="comm_interruption") == []
    w.clock.advance(seconds=10)
    _round(w)
    [alarm] = w.alarms(type="comm_interruption")
    assert alarm["start"] == "2026-03-15T04:10:00Z"
    [fault] = _faults(w)
    assert fault["occurred_at"] == "2026-03-15T04:07:00Z"  # not back-dated into the absence
