"""The agent: poll cycles into the outbox, restarts, the center's commands, the loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from coalwatch.sim.registers import Registers, RegisterServer, register_server
from coalwatch.station.agent import POLL_INTERVAL_KEY, Agent
from coalwatch.station.config import load_config, load_map
from coalwatch.station.outbox import Outbox
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.station.conftest import real_center
from tests.support.world import world

HERE = Path(__file__).parent
BW500 = load_map("bw500", HERE)
IO = load_map("station_io", HERE)
TRIPS = load_map("trip_indicator", HERE)
KEY = generate_private_key()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def belt(total: str) -> Registers:
    regs = Registers()
    assert BW500.totalizer and BW500.flow and BW500.error_code
    regs.put(BW500, BW500.totalizer, total)
    regs.put(BW500, BW500.flow, "600")
    regs.put(BW500, BW500.error_code, 0)
    for spec in BW500.parameters:
        regs.put(BW500, spec, 1)
    assert IO.conveyor_running and IO.door_open and IO.mains_power
    regs.set_bit(IO, IO.conveyor_running, True)
    regs.set_bit(IO, IO.door_open, False)
    regs.set_bit(IO, IO.mains_power, True)
    return regs


def skip(count: int, net_kg: int) -> Registers:
    regs = Registers()
    assert TRIPS.trip_counter and TRIPS.trip_net and TRIPS.error_code
    regs.put(TRIPS, TRIPS.trip_counter, count)
    regs.put(TRIPS, TRIPS.trip_net, net_kg)
    regs.put(TRIPS, TRIPS.error_code, 0)
    for spec in TRIPS.parameters:
        regs.put(TRIPS, spec, 1)
    return regs


def write_config(tmp_path: Path, port: int, centers: list[str] | None = None) -> Path:
    """Belt B1 (BW500 at unit 1 + I/O at unit 3) and skip K1 (unit 2) on one TCP bus."""
    path = tmp_path / "station.toml"
    centers_toml = ", ".join(f'"{c}"' for c in centers or ["http://127.0.0.1:9"])
    path.write_text(
        f"""
[station]
code = "S1"
key_file = "station.key"
centers = [{centers_toml}]
outbox = "var/outbox.db"
poll_interval_s = 1
heartbeat_s = 30

[buses.line]
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 1.0

[[points]]
code = "B1"
kind = "belt"
[[points.devices]]
bus = "line"
unit = 1
map = "bw500"
[[points.devices]]
bus = "line"
unit = 3
map = "station_io"

[[points]]
code = "K1"
kind = "skip"
[[points.devices]]
bus = "line"
unit = 2
map = "trip_indicator"
"""
    )
    return path


@pytest.fixture
def field() -> Iterator[tuple[RegisterServer, Registers, Registers]]:
    scale, trips = belt("1000.000"), skip(5, 9000)
    with register_server({1: scale, 2: trips, 3: scale}) as server:
        yield server, scale, trips


def make_agent(config_path: Path, **kwargs: Any) -> Agent:
    config, maps = load_config(config_path)
    outbox = Outbox(config_path.parent / "var" / "outbox.db")
    return Agent(config, maps, KEY, outbox, **kwargs)


def records(agent: Agent) -> list[dict[str, Any]]:
    return agent.outbox.pending(10_000)


def test_a_cycle_stores_records_and_state_and_a_restart_repeats_nothing(
    tmp_path: Path, field: tuple[RegisterServer, Registers, Registers]
) -> None:
    server, _scale, trips = field
    path = write_config(tmp_path, server.port)

    async def first_run() -> None:
        agent = make_agent(path)
        await agent.poll_cycle()
        trips.put(TRIPS, TRIPS.trip_counter, 6)  # type: ignore[arg-type]
        trips.put(TRIPS, TRIPS.trip_net, 8500)  # type: ignore[arg-type]
        await agent.poll_cycle()
        got = [(r["type"], r["point"]) for r in records(agent)]
        # cycle 1: B1 sample + conveyor state; K1 baseline. cycle 2: B1 sample, K1 trip
        assert got == [
            ("totalizer", "B1"),
            ("conveyor", "B1"),
            ("totalizer", "B1"),
            ("trip", "K1"),
        ]
        assert agent.outbox.state("device:K1:0")["trip_counter"] == 6
        for bus in agent.buses.values():
            bus.close()
        agent.outbox.close()

    async def second_run() -> None:
        agent = make_agent(path)  # the same outbox: the state comes back
        await agent.poll_cycle()
        new = records(agent)[4:]
        assert [(r["type"], r["point"]) for r in new] == [("totalizer", "B1")]
        assert [r["seq"] for r in records(agent)] == [1, 2, 3, 4, 5]
        for bus in agent.buses.values():
            bus.close()
        agent.outbox.close()

    asyncio.run(first_run())
    asyncio.run(second_run())


def test_set_poll_interval_applies_and_survives_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, 9)
    agent = make_agent(path)
    agent.handle_commands([{"type": "set_poll_interval", "seconds": 3}])
    assert agent.poll_interval_s == 3
    with caplog.at_level(logging.WARNING):
        agent.handle_commands([{"type": "set_poll_interval", "seconds": 30}])
    assert agent.poll_interval_s == 3
    assert "1–10 s" in caplog.text
    agent.outbox.close()
    again = make_agent(path)
    assert again.poll_interval_s == 3
    assert again.outbox.state(POLL_INTERVAL_KEY) == 3
    again.outbox.close()


def test_time_check_logs_the_offset_and_sends_a_heartbeat_with_both_clocks_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    station_now = datetime(2026, 3, 15, 4, 0, 0, tzinfo=UTC)
    agent = make_agent(write_config(tmp_path, 9), clock=Clock(station_now))
    center = station_now - timedelta(seconds=95)
    with caplog.at_level(logging.WARNING):
        agent.handle_commands([{"type": "time_check", "center_time": center.isoformat()}])
        # the center repeats it in every answer while the skew lasts: one heartbeat a minute
        agent.handle_commands([{"type": "time_check", "center_time": center.isoformat()}])
    (beat,) = records(agent)
    assert beat["type"] == "heartbeat"
    assert beat["station_time"] == station_now.isoformat()
    assert beat["center_time"] == center.isoformat()
    assert "+95.0 s off" in caplog.text
    agent.outbox.close()


def test_an_unknown_command_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent(write_config(tmp_path, 9))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            agent.handle_commands([{"type": "reboot"}])
    assert caplog.text.count("unknown command") == 1
    agent.outbox.close()


def test_run_polls_beats_uploads_and_stops_on_request(
    tmp_path: Path, sqlite_url: str, field: tuple[RegisterServer, Registers, Registers]
) -> None:
    server, _, _ = field
    with real_center(sqlite_url, KEY) as (w, transport):
        # the station's clock reads the center's (records from its future are quarantined)
        agent = make_agent(
            write_config(tmp_path, server.port), clock=Clock(w.clock()), transport=transport
        )

        async def main() -> None:
            task = asyncio.create_task(agent.run())
            for _ in range(200):
                await asyncio.sleep(0.02)
                if agent.stats.cycles >= 2 and agent.outbox.count() == 0:
                    break
            agent.stop.set()
            await asyncio.wait_for(task, 5)

        asyncio.run(main())
        assert transport.statuses and set(transport.statuses) == {200}
        kinds = [r["type"] for r in w.ok(w.get("/mines/M1/records", limit=1000))["items"]]
        assert "heartbeat" in kinds and kinds.count("totalizer") >= 2, kinds
        assert agent.outbox.count() == 0 and transport.closed
        agent.outbox.close()


def test_production_at_a_real_center_equals_the_totalizer_delta(
    tmp_path: Path, sqlite_url: str, field: tuple[RegisterServer, Registers, Registers]
) -> None:
    server, scale, trips = field
    with world(sqlite_url) as w:
        w.mine("M1", belts=("B1",), trips=("K1",), station=None, rollover_t="4294967.296")
        w.ok(w.post("/mines/M1/stations", {"code": "S1", "public_key": public_key_b64(KEY)}))

        class Transport:
            def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
                response = w.client.post(urlsplit(url).path, content=body, headers=headers)
                return response.status_code, response.content

            def close(self) -> None:
                pass

        clock = Clock(w.clock() - timedelta(minutes=6))
        agent = make_agent(write_config(tmp_path, server.port), clock=clock, transport=Transport())

        async def main() -> None:
            # 1000.000 → 1000.500 → 1003.250 → 4.000 (a reset: counts 4.000) → 6.125, a
            # minute apart: each step possible at the 600 t/h the scale reports (at most
            # 600,000 × 62 / 3,600 × 1.5 + 1,000 = 16,500 kg a minute)
            for total in ("1000.000", "1000.500", "1003.250", "4.000", "6.125"):
                scale.put(BW500, BW500.totalizer, total)  # type: ignore[arg-type]
                await agent.poll_cycle()
                clock.now += timedelta(minutes=1)
            trips.put(TRIPS, TRIPS.trip_counter, 6)  # type: ignore[arg-type]
            trips.put(TRIPS, TRIPS.trip_net, 8250)  # type: ignore[arg-type]
            await agent.poll_cycle()
            while await agent.uploader.send_once():
                pass
            for bus in agent.buses.values():
                bus.close()

        asyncio.run(main())
        agent.uploader.close()
        assert agent.outbox.count() == 0
        day = w.clock()
        items = w.ok(
            w.get(
                "/mines/M1/production",
                period="day",
                point="B1",
                **{
                    "from": (day - timedelta(days=1)).isoformat(),
                    "to": (day + timedelta(days=1)).isoformat(),
                },
            )
        )["items"]
        # 0.5 + 2.75 + 4.0 (after the reset) + 2.125 = 9.375 t
        assert sum(Decimal(str(i["gross_t"])) for i in items) == Decimal("9.375")
        events = w.ok(w.get("/mines/M1/records", type="event"))["items"]
        assert [e["event"] for e in events] == ["parameter_change"]
        (trip,) = w.ok(w.get("/mines/M1/records", type="trip"))["items"]
        assert Decimal(str(trip["value_t"])) == Decimal("8.25")
        agent.outbox.close()


def test_the_station_logs_each_event_it_stores_once_at_info(
    tmp_path: Path,
    field: tuple[RegisterServer, Registers, Registers],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, scale, trips = field
    agent = make_agent(write_config(tmp_path, server.port))

    async def main() -> None:
        await agent.poll_cycle()  # the first look: nothing to tell
        assert IO.door_open and IO.mains_power
        scale.set_bit(IO, IO.door_open, True)
        scale.set_bit(IO, IO.mains_power, False)
        scale.put(BW500, BW500.totalizer, "4.000")  # type: ignore[arg-type]
        trips.put(TRIPS, TRIPS.parameters[0], 7)
        for _ in range(3):  # the same conditions for three polls: told once
            await agent.poll_cycle()
        for bus in agent.buses.values():
            bus.close()

    with caplog.at_level(logging.INFO, logger="coalwatch.station"):
        asyncio.run(main())
    lines = [r.message for r in caplog.records if r.levelno == logging.INFO]
    told = [line for line in lines if line.startswith("event ")]
    assert len(told) == 4, lines
    assert any(line.startswith("event enclosure_open point B1 at ") for line in told)
    assert any(line.startswith("event power_off point B1 at ") for line in told)
    assert any("totalizer reset from 1000.000 t to 4.000 t" in line for line in told)
    assert any(
        line.startswith("event parameter_change point K1") and "120: 1 → 7" in line for line in told
    )
    agent.outbox.close()
