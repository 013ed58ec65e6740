"""A backlog is not silence: a station whose upload waits in the center (connected, its
batch queued) is not in communication interruption 通信中断; the silence rules judge up
to the ingest horizon (coalwatch.horizon)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coalwatch.horizon.service import STALE, Arrivals, ArrivalsMiddleware, report, waiting_since
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def w(sqlite_url: str) -> Any:
    with world(sqlite_url, now=datetime(2026, 3, 15, 12, 0, tzinfo=SH)) as w:
        w.mine("M1", capacity_t=3300, trips=("K1",))
        yield w


def heartbeat(w: World) -> None:
    [seq] = w.stations["S1"].seqs(1)
    w.ok(w.upload("S1", [{"seq": seq, "ts": w.clock(), "type": "heartbeat"}]))


def test_a_station_whose_upload_waits_in_the_center_is_not_silent(w: World) -> None:
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    heartbeat(w)  # heard at 12:00:00
    arrived = w.clock() + timedelta(seconds=10)  # its next upload reached a lagging center
    w.clock.advance(minutes=4)  # and still waits at 12:04 (4 min > the 3 of the rule)
    report(sessions, "center-a", arrived, w.clock())
    w.tick()
    assert w.alarms(type="comm_interruption") == []

    # the lagging process is gone (its horizon not renewed): the silence counts again,
    # from the last thing heard
    w.clock.advance(seconds=STALE.total_seconds() + 1)
    w.tick()
    [alarm] = w.alarms(type="comm_interruption")
    assert alarm["start"] == "2026-03-15T04:03:00Z"  # 12:00 + 3 min, in UTC


def test_an_upload_counts_as_waiting_from_its_arrival_to_its_answer() -> None:
    arrivals = Arrivals()
    t0 = datetime(2026, 3, 15, 12, 0, tzinfo=SH)
    seen: list[datetime | None] = []

    async def center(scope: Any, receive: Any, send: Any) -> None:
        seen.append(arrivals.oldest())

    middleware = ArrivalsMiddleware(center, arrivals, lambda: t0)
    upload = {"type": "http", "method": "POST", "path": "/api/v1/stations/S1/batches"}
    page = {"type": "http", "method": "GET", "path": "/api/v1/alarms"}
    asyncio.run(middleware(upload, None, None))  # type: ignore[arg-type]
    asyncio.run(middleware(page, None, None))  # type: ignore[arg-type]
    assert seen == [t0, None] and arrivals.oldest() is None
    # only an upload that waited longer than a second is a lag worth writing
    ticket = arrivals.arrive(t0)
    assert waiting_since(arrivals, t0 + timedelta(milliseconds=900)) is None
    assert waiting_since(arrivals, t0 + timedelta(seconds=2)) == t0
    arrivals.leave(ticket)
