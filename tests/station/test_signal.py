"""The sound-and-light warning at the outlet 声光预警: a coil of the I/O module, switched
by the center's answer, by the station itself while the center is away, off once the
alarm is acknowledged at the center; every switch a record. The coil is read back over
real Modbus TCP from the simulated I/O module."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coalwatch.sim.registers import Registers, RegisterServer, register_server
from coalwatch.station.agent import Agent
from coalwatch.station.bus import Bus, BusError, Group
from coalwatch.station.config import TcpBus
from coalwatch.station.registers import Table
from tests.station.conftest import CenterTransport, real_center
from tests.station.test_agent import IO, KEY, Clock, belt, make_agent, records, skip
from tests.station.test_agent import write_config as write_base_config
from tests.support.world import World

#: the beacon's relay: coil 8 of the I/O module (unit 3)
COIL = 8


def write_config(tmp_path: Path, port: int) -> Path:
    path = write_base_config(tmp_path, port)
    text = path.read_text()
    # the signal output belongs to point B1 (its table precedes the K1 point)
    text = text.replace(
        '[[points]]\ncode = "K1"',
        f'[points.signal]\nbus = "line"\nunit = 3\ncoil = {COIL}\n\n[[points]]\ncode = "K1"',
    )
    path.write_text(text)
    return path


@pytest.fixture
def field() -> Iterator[tuple[RegisterServer, Registers]]:
    scale, io = belt("1000.000"), belt("1000.000")
    io.add_output(COIL)
    with register_server({1: scale, 2: skip(5, 9000), 3: io}) as server:
        yield server, io


async def coil(server: RegisterServer) -> bool:
    """The beacon's coil as a Modbus client reads it from the I/O module."""
    bus = Bus("check", TcpBus(kind="tcp", host="127.0.0.1", port=server.port))
    try:
        (bits,) = await bus.read(3, [Group(Table.COIL, COIL, 1)])
        return bool(bits[0])
    finally:
        bus.close()


class Down:
    """The center unreachable."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        raise ConnectionRefusedError("connection refused")

    def close(self) -> None:
        pass


class Switchable:
    """A link to a real center that can be cut."""

    def __init__(self, center: CenterTransport) -> None:
        self.center = center
        self.up = False

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if not self.up:
            return Down().post(url, body, headers)
        return self.center.post(url, body, headers)

    def close(self) -> None:
        pass


async def run(agent: Agent, *steps: str) -> None:
    """Poll cycles ("poll") and uploads ("send"), in order."""
    for step in steps:
        if step == "poll":
            await agent.poll_cycle()
        else:
            while await agent.uploader.send_once():
                pass


def signal_events(w: World) -> list[dict[str, Any]]:
    events = w.ok(w.get("/mines/M1/records", type="event", limit=1000))["items"]
    return [e for e in events if e["event"] in ("signal_on", "signal_off")]


def close_buses(agent: Agent) -> None:
    for bus in agent.buses.values():
        bus.close()


def close(agent: Agent) -> None:
    agent.uploader.close()
    agent.outbox.close()


def test_the_center_sounds_the_beacon_for_an_open_door_and_silences_it_when_acknowledged(
    tmp_path: Path, sqlite_url: str, field: tuple[RegisterServer, Registers]
) -> None:
    server, io = field
    with real_center(sqlite_url, KEY) as (w, transport):
        agent = make_agent(
            write_config(tmp_path, server.port), clock=Clock(w.clock()), transport=transport
        )

        async def scenario() -> None:
            await run(agent, "poll", "send", "poll")
            # at start the station writes the output as it last was (off): no switch, no record
            assert await coil(server) is False and io.writes == [(COIL, False)]

            assert IO.door_open is not None
            io.set_bit(IO, IO.door_open, True)  # opened, no permit
            await run(agent, "poll", "send", "poll")
            (alarm,) = w.alarms(type="enclosure_open")
            assert await coil(server) is True
            assert io.writes == [(COIL, False), (COIL, True)]
            state = agent.outbox.state("signal:B1")
            assert state["on"] is True and f"alarm {alarm['id']}" in state["reason"]

            # the door closes again: the alarm's condition ends, but nobody has seen it yet
            io.set_bit(IO, IO.door_open, False)
            await run(agent, "poll", "send", "poll")
            assert await coil(server) is True

            w.ok(w.post(f"/alarms/{alarm['id']}/ack", {}))
            await run(agent, "poll", "send", "poll", "send")
            assert await coil(server) is False
            assert io.writes == [(COIL, False), (COIL, True), (COIL, False)]
            on, off = signal_events(w)
            assert on["event"] == "signal_on" and on["point"] == "B1"
            assert f"center: unacknowledged alarm {alarm['id']}" in on["detail"]
            assert off["event"] == "signal_off"
            assert "center: no unacknowledged alarm" in off["detail"]
            close_buses(agent)

        asyncio.run(scenario())
        close(agent)


def test_with_the_center_down_the_station_sounds_the_beacon_itself_when_the_door_opens(
    tmp_path: Path, sqlite_url: str, field: tuple[RegisterServer, Registers]
) -> None:
    server, io = field
    with real_center(sqlite_url, KEY) as (w, center):
        link = Switchable(center)
        agent = make_agent(
            write_config(tmp_path, server.port), clock=Clock(w.clock()), transport=link
        )

        async def scenario() -> None:
            await run(agent, "poll", "send")
            assert agent.uploader.failed_rounds == 1
            assert IO.door_open is not None
            io.set_bit(IO, IO.door_open, True)
            await run(agent, "poll")
            assert await coil(server) is True
            (switch,) = [r for r in records(agent) if r.get("event") == "signal_on"]
            assert switch["point"] == "B1"
            assert "station: enclosure_open" in switch["detail"]
            assert "center is unreachable" in switch["detail"]

            # the center is back: it gets the door event, alarms, and keeps the beacon on
            link.up = True
            await run(agent, "send", "poll", "send")
            (alarm,) = w.alarms(type="enclosure_open")
            assert await coil(server) is True
            (on,) = signal_events(w)
            assert "station: enclosure_open" in on["detail"]

            w.ok(w.post(f"/alarms/{alarm['id']}/ack", {}))
            await run(agent, "poll", "send", "poll", "send")
            assert await coil(server) is False
            assert [e["event"] for e in signal_events(w)] == ["signal_on", "signal_off"]
            close_buses(agent)

        asyncio.run(scenario())
        close(agent)


def test_a_restart_keeps_the_beacon_as_it_was_until_the_center_says_otherwise(
    tmp_path: Path, sqlite_url: str, field: tuple[RegisterServer, Registers]
) -> None:
    server, io = field
    path = write_config(tmp_path, server.port)
    agent = make_agent(path, transport=Down())
    assert IO.door_open is not None
    io.set_bit(IO, IO.door_open, True)

    async def before() -> None:
        await run(agent, "send", "poll")
        assert await coil(server) is True
        close_buses(agent)

    asyncio.run(before())
    close(agent)
    io.coils[COIL] = False  # the I/O module lost power with the station
    again = make_agent(path, transport=Down())

    async def after() -> None:
        await run(again, "poll")
        assert await coil(server) is True  # written again: the event is not at the center yet
        close_buses(again)

    asyncio.run(after())
    close(again)


def test_only_the_configured_output_coil_can_be_written() -> None:
    io = Registers()
    io.add_output(COIL)
    io.coils[COIL + 1] = False
    with register_server({3: io}) as server:

        async def write(address: int) -> None:
            bus = Bus("check", TcpBus(kind="tcp", host="127.0.0.1", port=server.port))
            try:
                await bus.write_coil(3, address, True)
            finally:
                bus.close()

        asyncio.run(write(COIL))
        with pytest.raises(BusError, match="exception response"):
            asyncio.run(write(COIL + 1))
    assert io.writes == [(COIL, True)]


def test_a_supervising_unit_chooses_the_alarm_types_that_sound(database_url: str) -> None:
    from tests.support.world import world

    with world(database_url) as w:
        w.mine("M1", belts=("B1", "B2"))
        w.ok(w.post("/orgs", {"code": "CO", "name": "公司", "kind": "company", "parent": "C1"}))
        company = w.token_for("CO", write=True)
        county = w.token_for("C1", write=True)
        assert w.ok(w.get("/mines/M1/signal-types"))["decided_for"] == "default"
        refused = w.put("/orgs/CO/signal-types", {"types": []}, token=company)
        assert refused.status_code == 403, refused.text
        chosen = w.ok(w.put("/orgs/C1/signal-types", {"types": ["power_off"]}, token=county))
        assert chosen["types"] == ["power_off"] and chosen["decided_for"] == "org C1"
        assert w.put("/orgs/C1/signal-types", {"types": ["nonsense"]}).status_code == 422
        ts = w.clock()
        seq = w.stations["S1"].seqs(2)
        answer = w.ok(
            w.upload(
                "S1",
                [
                    {
                        "seq": seq[0],
                        "ts": ts,
                        "type": "event",
                        "point": "B1",
                        "event": "enclosure_open",
                    }
                ],
            )
        )
        # the door is alarmed, but the county chose mains only: nothing sounds
        assert answer["signals"]["types"] == ["power_off"]
        assert [p["on"] for p in answer["signals"]["points"]] == [False, False]
        answer = w.ok(
            w.upload(
                "S1",
                [{"seq": seq[1], "ts": ts, "type": "event", "point": "B2", "event": "power_off"}],
            )
        )
        (alarm,) = w.alarms(type="power_off")
        assert answer["signals"]["points"] == [
            {"point": "B1", "on": False, "alarms": []},
            {"point": "B2", "on": True, "alarms": [alarm["id"]]},
        ]
