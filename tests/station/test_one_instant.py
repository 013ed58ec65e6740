"""A point read as two devices (the integrator and the conveyor's I/O module) against a
real center: one poll cycle is one instant, and what the center counts is true.

The simulators run on a clock the test moves (no noise, never a shift change): the
belt carries 600 t/h = 600,000 kg / 3,600 s, i.e. 500 kg in 3 s, 333 kg in 2 s (the
integrator shows whole kilograms and carries the fraction to the next reading).
The station's clock moves 0.1 s at every look, as a real clock moves while the
devices are read one after the other.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from coalwatch.sim.profile import Schedule
from coalwatch.sim.simset import BeltSpec, SimSet
from coalwatch.station.agent import Agent
from coalwatch.station.config import load_config
from coalwatch.station.outbox import Outbox
from coalwatch.wire.signing import generate_private_key
from tests.station.conftest import real_center
from tests.support.world import World

KEY = generate_private_key()


class SimClock:
    """The simulators' clock (seconds), moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TickingClock:
    """The station's clock: 0.1 s later at every look."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=0.1)
        return self.now


def write_config(tmp_path: Path, sims: SimSet, io_first: bool) -> Path:
    """Belt B1: the integrator (bus B1) and the conveyor I/O module (bus B1-IO), in the
    order asked for; K1 is left unpolled."""
    ends = sims.endpoints
    devices = {
        "B1": '[[points.devices]]\nbus = "b1"\nunit = 1\nmap = "bw500"\n',
        "B1-IO": '[[points.devices]]\nbus = "io"\nunit = 1\nmap = "station_io"\n',
    }
    order = ["B1-IO", "B1"] if io_first else ["B1", "B1-IO"]
    path = tmp_path / "station.toml"
    path.write_text(
        f"""
[station]
code = "S1"
key_file = "station.key"
centers = ["http://127.0.0.1:9"]
outbox = "var/outbox.db"
poll_interval_s = 2

[buses.b1]
kind = "tcp"
host = "127.0.0.1"
port = {ends["B1"][1]}

[buses.io]
kind = "tcp"
host = "127.0.0.1"
port = {ends["B1-IO"][1]}

[[points]]
code = "B1"
kind = "belt"
{devices[order[0]]}
{devices[order[1]]}
"""
    )
    return path


def belt(start_t: int) -> SimSet:
    spec = BeltSpec("B1", rate_tph=600, start_t=start_t, noise=0.0, schedule=Schedule(stop_min=0))
    return SimSet(belts=[spec], io=True, clock=SIM_CLOCK)


SIM_CLOCK = SimClock()


def make_agent(path: Path, clock: Any, transport: Any) -> Agent:
    config, maps = load_config(path)
    outbox = Outbox(path.parent / "var" / "outbox.db")
    return Agent(config, maps, KEY, outbox, clock=clock, transport=transport)


async def upload_all(agent: Agent) -> None:
    while await agent.uploader.send_once():
        pass


async def upload_and_close(agent: Agent) -> None:
    await upload_all(agent)
    for bus in agent.buses.values():
        bus.close()


def close(agent: Agent) -> None:
    agent.uploader.close()
    agent.outbox.close()


def metering(w: World) -> list[dict[str, Any]]:
    return w.alarms(type="metering_anomaly")


@pytest.mark.parametrize("io_first", [False, True], ids=["integrator-first", "io-first"])
def test_a_conveyor_stop_and_start_raise_no_metering_anomaly(
    tmp_path: Path, sqlite_url: str, io_first: bool
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport), belt(1000) as sims:
        clock = TickingClock(w.clock() - timedelta(seconds=30))
        agent = make_agent(write_config(tmp_path, sims, io_first), clock, transport)

        async def cycle(seconds: float, *faults: str) -> list[dict[str, Any]]:
            for fault in faults:
                sims.inject("B1-IO", fault)
            SIM_CLOCK.now += seconds
            clock.now += timedelta(seconds=seconds)
            before = agent.outbox.count()
            await agent.poll_cycle()
            return agent.outbox.pending(10_000)[before:]

        async def main() -> list[list[dict[str, Any]]]:
            cycles = [await cycle(0)]  # baseline 1,000.000 t, running
            cycles.append(await cycle(3))  # +500 kg, running
            SIM_CLOCK.now += 1.5  # the belt carries 250 kg more, then stops
            clock.now += timedelta(seconds=1.5)
            cycles.append(await cycle(1.5, "conveyor_stop"))
            cycles.append(await cycle(3))  # stopped: nothing carried
            cycles.append(await cycle(3, "conveyor_start"))  # started at once: +500 kg
            cycles.append(await cycle(3))  # +500 kg
            await upload_and_close(agent)
            return cycles

        cycles = asyncio.run(main())
        close(agent)
        # one cycle, one instant: the stop's reading and the stopped state share it
        stop = cycles[2]
        assert {r["type"] for r in stop} == {"totalizer", "conveyor"}
        assert len({r["ts"] for r in stop}) == 1
        start = cycles[4]
        assert len({r["ts"] for r in start}) == 1
        # neither the stop (tonnes carried while it ran) nor the start is an anomaly
        assert metering(w) == []
        # 500 + 250 (before the stop) + 0 + 500 + 500 = 1,750 kg
        records = w.ok(w.get("/mines/M1/records", type="totalizer", limit=100))["items"]
        assert sum(Decimal(str(r["increment_t"] or 0)) for r in records) == Decimal("1.750")


def test_counting_while_stopped_is_raised_and_ends_at_the_start(
    tmp_path: Path, sqlite_url: str
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport), belt(1000) as sims:
        clock = TickingClock(w.clock() - timedelta(seconds=30))
        agent = make_agent(write_config(tmp_path, sims, True), clock, transport)

        async def cycle(seconds: float) -> None:
            SIM_CLOCK.now += seconds
            clock.now += timedelta(seconds=seconds)
            await agent.poll_cycle()

        async def main() -> None:
            await cycle(0)
            sims.inject("B1-IO", "conveyor_stop")
            await cycle(3)  # stopped at once: nothing carried
            sims.inject("B1", "count_while_stopped")  # the scale counts, the belt stands
            await cycle(3)  # +500 kg over an interval stopped throughout: the anomaly
            await upload_all(agent)
            sims.inject("B1", "conveyor_start")
            await cycle(3)
            await upload_and_close(agent)

        asyncio.run(main())
        close(agent)
        [alarm] = metering(w)
        assert alarm["value"] == "0.500" and alarm["end"] is not None


def test_an_integrator_restarted_at_a_non_zero_total_is_held_as_suspect(
    tmp_path: Path, sqlite_url: str
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport), belt(5000) as sims:
        clock = TickingClock(w.clock() - timedelta(seconds=30))
        agent = make_agent(write_config(tmp_path, sims, False), clock, transport)

        async def cycle(seconds: float) -> None:
            SIM_CLOCK.now += seconds
            clock.now += timedelta(seconds=seconds)
            await agent.poll_cycle()

        async def main() -> None:
            await cycle(0)  # 5,000.000 t
            await cycle(3)  # 5,000.500 t: +500 kg
            sims.inject("B1", "restart", total_t=Decimal("1234"))
            await cycle(3)  # 1,234.500 t: a drop, taken for a reset of 1,234.500 t
            await cycle(3)  # 1,235.000 t: +500 kg
            await upload_and_close(agent)

        asyncio.run(main())
        close(agent)
        records = w.ok(w.get("/mines/M1/records", type="totalizer", limit=100))["items"]
        # counted: 500 + 500 kg; the 1,234.500 t "reset" is held, not counted
        assert sum(Decimal(str(r["increment_t"] or 0)) for r in records) == Decimal("1.000")
        [suspect] = w.ok(w.get("/mines/M1/suspects"))["items"]
        assert (suspect["kind"], Decimal(str(suspect["increment_t"])), suspect["status"]) == (
            "reset",
            Decimal("1234.5"),
            "held",
        )
        [alarm] = metering(w)
        assert alarm["params"]["code"] == "suspect_increment" and alarm["end"] is None
