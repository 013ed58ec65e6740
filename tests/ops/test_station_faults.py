"""Station faults: a full disk, a corrupt outbox file, a clock that jumps back and forth.

Each runs a real agent on a fake Modbus field (loopback) and, where the center's
side matters, uploads to a real center on both databases.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from coalwatch.sim.registers import Registers, RegisterServer, register_server
from coalwatch.station.agent import Agent
from coalwatch.station.outbox import Outbox
from coalwatch.wire.signing import public_key_b64
from tests.station.test_agent import BW500, KEY, TRIPS, belt, make_agent, skip, write_config
from tests.support.world import World, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def field() -> Iterator[tuple[RegisterServer, Registers, Registers]]:
    scale, trips = belt("1000.000"), skip(5, 9000)
    with register_server({1: scale, 2: trips, 3: scale}) as server:
        yield server, scale, trips


@pytest.fixture
def center(database_url: str) -> Iterator[World]:
    """A real center with mine M1 (belt B1, skip K1) and station S1 holding the test key."""
    with world(database_url, now=T0) as w:
        w.mine("M1", belts=("B1",), trips=("K1",), station=None)
        w.ok(w.post("/mines/M1/stations", {"code": "S1", "public_key": public_key_b64(KEY)}))
        yield w


class CenterTransport:
    """The agent's uploads to the in-process center (the HTTP app, through its test client)."""

    def __init__(self, w: World) -> None:
        self.w = w

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = self.w.client.post(urlsplit(url).path, content=body, headers=headers)
        return response.status_code, response.content

    def close(self) -> None:
        pass


def close_buses(agent: Agent) -> None:
    """Inside the event loop the buses ran on."""
    for bus in agent.buses.values():
        bus.close()


def close(agent: Agent) -> None:
    agent.uploader.close()
    agent.outbox.close()


async def upload_all(agent: Agent) -> None:
    for _ in range(50):
        if await agent.uploader.send_once() is None:
            return
    raise AssertionError("the outbox did not drain")


def center_records(w: World, type_: str | None = None) -> list[dict[str, Any]]:
    params = {"type": type_} if type_ else {}
    items: list[dict[str, Any]] = w.ok(w.get("/mines/M1/records", **params))["items"]
    return items


def gross_t(w: World, point: str) -> Decimal:
    """A point's production over the day of T0 (local), from the figures API."""
    items = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            point=point,
            **{
                "from": (T0 - timedelta(days=1)).isoformat(),
                "to": (T0 + timedelta(days=1)).isoformat(),
            },
        )
    )["items"]
    return sum((Decimal(str(i["gross_t"])) for i in items), Decimal(0))


# -- (b) the disk full ------------------------------------------------------------------------


def test_a_full_disk_keeps_the_agent_polling_loses_nothing_and_reports_it_afterwards(
    tmp_path: Path,
    field: tuple[RegisterServer, Registers, Registers],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, scale, trips = field
    clock = Clock(T0)
    agent = make_agent(write_config(tmp_path, server.port), clock=clock)

    async def main() -> None:
        await agent.poll_cycle()  # B1 totalizer + conveyor; K1 baseline (counter 5)
        stored = agent.outbox.pending(1000)
        assert [r["seq"] for r in stored] == [1, 2]
        # the disk is full: the outbox file may not grow by one page more (a test hook on
        # its connection, as a full file system would answer SQLITE_FULL)
        db: sqlite3.Connection = agent.outbox._db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        refused = 0
        with caplog.at_level(logging.ERROR, logger="coalwatch.station"):
            for cycle in range(400):
                scale.put(BW500, BW500.totalizer, f"{1000 + cycle + 1}.000")  # type: ignore[arg-type]
                clock.now += timedelta(seconds=1)
                try:
                    await agent.poll_cycle()
                except Exception as exc:  # OutboxFull: the poll loop goes on after it
                    assert type(exc).__name__ == "OutboxFull"
                    refused += 1
                    if refused == 1:
                        # a trip happens while the disk is full (counter 5 → 6, 8.500 t)
                        trips.put(TRIPS, TRIPS.trip_counter, 6)  # type: ignore[arg-type]
                        trips.put(TRIPS, TRIPS.trip_net, 8500)  # type: ignore[arg-type]
                    if refused == 3:
                        break
        assert refused == 3, "the outbox never filled"
        assert caplog.text.count("cannot store records") == 1  # logged once
        # what was stored before is still there, unchanged
        assert agent.outbox.pending(1000)[:2] == stored
        held = agent.outbox.count()
        # space again
        db.execute("PRAGMA max_page_count = 1073741823")
        scale.put(BW500, BW500.totalizer, "2000.000")  # type: ignore[arg-type]
        clock.now += timedelta(seconds=1)
        await agent.poll_cycle()
        new = agent.outbox.pending(1000)[held:]
        kinds = [(r["type"], r.get("event") or r.get("point")) for r in new]
        assert kinds == [
            ("event", "device_fault"),
            ("event", "device_ok"),
            ("totalizer", "B1"),
            ("trip", "K1"),
        ]
        assert "3 writes" in new[0]["detail"] and "full" in new[0]["detail"]
        # the trip made while the disk was full is not lost: the counter moved 5 → 6
        assert new[3]["net_t"] == Decimal("8.5")
        seqs = [r["seq"] for r in agent.outbox.pending(1000)]
        assert seqs == list(range(1, len(seqs) + 1))
        close_buses(agent)

    asyncio.run(main())
    close(agent)


# -- (c) a corrupt outbox file ----------------------------------------------------------------


def _corrupt(path: Path, where: str) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    if where == "header":
        data[:100] = b"\xa5" * 100
    else:  # a b-tree page in the middle: the records table's root
        data[page : 2 * page] = b"\x5a" * page
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["header", "page"])
def test_a_corrupt_outbox_file_is_moved_aside_and_a_new_one_started(
    tmp_path: Path, where: str
) -> None:
    path = tmp_path / "outbox.db"
    outbox = Outbox(path)
    outbox.append([{"ts": T0.isoformat(), "type": "heartbeat"}] * 300)
    outbox.close()  # the last connection checkpoints the WAL into the file
    _corrupt(path, where)
    if where == "header":  # a reader (station status) gets the error and moves nothing
        with pytest.raises(sqlite3.DatabaseError):
            Outbox(path, repair=False)
        assert [p.name for p in tmp_path.iterdir()] == ["outbox.db"]
    again = Outbox(path)
    assert again.moved_aside is not None and again.moved_aside.exists()
    assert again.moved_aside.name.startswith("outbox.db.corrupt-")
    assert again.count() == 0 and again.seq_from_center
    again.close()
    # a sound file stays where it is
    third = Outbox(path)
    assert third.moved_aside is None and third.seq_from_center
    third.close()


def test_after_a_corrupt_outbox_seqs_continue_after_the_centers_and_the_event_goes_up(
    tmp_path: Path, field: tuple[RegisterServer, Registers, Registers], center: World
) -> None:
    server, scale, _trips = field
    w = center
    path = write_config(tmp_path, server.port)
    clock = Clock(T0)
    agent = make_agent(path, clock=clock, transport=CenterTransport(w))

    async def first_life() -> None:
        for total in ("1000.000", "1000.500", "1001.000"):
            scale.put(BW500, BW500.totalizer, total)  # type: ignore[arg-type]
            await agent.poll_cycle()
            clock.now += timedelta(seconds=5)
        await upload_all(agent)
        # two more readings stored but never sent: they die with the file
        for total in ("1001.250", "1001.500"):
            scale.put(BW500, BW500.totalizer, total)  # type: ignore[arg-type]
            await agent.poll_cycle()
            clock.now += timedelta(seconds=5)
        close_buses(agent)

    asyncio.run(first_life())
    acked = agent.outbox.stats().acked_seq
    # cycle 1: totalizer + conveyor; cycles 2, 3: totalizer = seqs 1..4 at the center
    assert acked == 4
    close(agent)
    _corrupt(tmp_path / "var" / "outbox.db", "header")

    agent = make_agent(path, clock=clock, transport=CenterTransport(w))
    assert agent.outbox.moved_aside is not None
    # the event is in the new outbox at once, before anything was polled
    (fault, ok) = agent.outbox.pending(10)
    assert fault["event"] == "device_fault" and "corrupt" in fault["detail"]
    assert ok["event"] == "device_ok"

    async def second_life() -> None:
        for total in ("1002.000", "1003.000"):
            scale.put(BW500, BW500.totalizer, total)  # type: ignore[arg-type]
            await agent.poll_cycle()
            clock.now += timedelta(seconds=5)
        await upload_all(agent)
        close_buses(agent)

    asyncio.run(second_life())
    assert agent.outbox.count() == 0
    close(agent)
    records = center_records(w)
    seqs = [r["seq"] for r in records]
    # 4 before; then device_fault, device_ok, 2 totalizers (+ the conveyor state the new
    # outbox's first cycle reports) as 5, 6, 7, 8, 9: none taken as a duplicate of 1..4
    assert sorted(seqs) == list(range(1, 10))
    events = center_records(w, "event")
    assert [e["event"] for e in events] == ["device_fault", "device_ok"]
    assert "corrupt" in events[0]["detail"]
    station = w.ok(w.get("/mines"))["items"][0]["stations"][0]
    assert station["acked_seq"] == 9
    # the totalizer is cumulative: the lost readings lose no production.
    # 1000.000 (baseline) → 1000.500 → 1001.000 → 1002.000 → 1003.000 = 3.000 t
    assert gross_t(w, "B1") == Decimal("3.000")


# -- (d) the clock jumps back and forth -------------------------------------------------------


def test_a_station_clock_jumping_back_and_forth_loses_nothing_and_keeps_figures_exact(
    tmp_path: Path, field: tuple[RegisterServer, Registers, Registers], center: World
) -> None:
    server, scale, trips = field
    w = center
    clock = Clock(T0)
    agent = make_agent(
        write_config(tmp_path, server.port), clock=clock, transport=CenterTransport(w)
    )
    true_now = T0
    # (station clock offset, totalizer, trip net kg or None); a reading every 10 s of true time
    script: list[tuple[timedelta, str, int | None]] = [
        (timedelta(0), "1000.000", None),
        (timedelta(0), "1001.000", 7000),
        (timedelta(hours=-3), "1002.500", None),  # the clock jumps back 3 h
        (timedelta(hours=-3), "1004.000", 6500),
        (timedelta(0), "1004.750", None),  # and forward again
        (timedelta(0), "1006.000", 8000),
    ]
    counter = 5

    async def main() -> None:
        nonlocal true_now, counter
        for offset, total, trip_kg in script:
            w.clock.now = true_now
            clock.now = true_now + offset
            scale.put(BW500, BW500.totalizer, total)  # type: ignore[arg-type]
            if trip_kg is not None:
                counter += 1
                trips.put(TRIPS, TRIPS.trip_counter, counter)  # type: ignore[arg-type]
                trips.put(TRIPS, TRIPS.trip_net, trip_kg)  # type: ignore[arg-type]
            await agent.poll_cycle()
            await upload_all(agent)  # each cycle is one batch, sent_at by the station's clock
            true_now += timedelta(seconds=10)
        close_buses(agent)

    asyncio.run(main())
    assert agent.outbox.count() == 0
    close(agent)
    records = center_records(w)
    seqs = sorted(r["seq"] for r in records)
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, no duplicate, monotonic
    assert len([r for r in records if r["type"] == "totalizer"]) == 6
    assert len([r for r in records if r["type"] == "trip"]) == 3
    # the center saw the batches sent 3 h behind its own clock
    assert any(a["type"] == "clock_skew" for a in w.alarms())
    # belt: 1006.000 − 1000.000 = 6.000 t (the readings in the station's order: +1.0,
    # +1.5, +1.5, +0.75, +1.25), whatever their timestamps say
    assert gross_t(w, "B1") == Decimal("6.000")
    # skip: 7.0 + 6.5 + 8.0 = 21.5 t
    assert gross_t(w, "K1") == Decimal("21.500")
    # each in the hour its timestamp says (local; T0 = 12:00): belt +1.0 (12:00:10),
    # +1.5 and +1.5 (09:00:20, 09:00:30), +0.75, +1.25 (12:00:40, 12:00:50): 09h 3.0, 12h 3.0;
    # skip 6.5 at 09:00:30, 7.0 + 8.0 = 15.0 at 12:00:10 and 12:00:50
    assert hours(w, "B1") == {"09:00": Decimal(3), "12:00": Decimal(3)}
    assert hours(w, "K1") == {"09:00": Decimal("6.5"), "12:00": Decimal(15)}


def hours(w: World, point: str) -> dict[str, Decimal]:
    """A point's non-zero hours of the day of T0, local time → t."""
    items = w.ok(
        w.get(
            "/mines/M1/production",
            period="hour",
            point=point,
            **{
                "from": (T0 - timedelta(hours=12)).isoformat(),
                "to": (T0 + timedelta(hours=6)).isoformat(),
            },
        )
    )["items"]
    return {
        i["start"][11:16]: Decimal(str(i["gross_t"])) for i in items if Decimal(str(i["gross_t"]))
    }
