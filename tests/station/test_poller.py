"""Device polling: what each change at an instrument becomes at the station, by rule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from coalwatch.sim.registers import Registers, RegisterServer, register_server
from coalwatch.station.bus import Bus
from coalwatch.station.config import TcpBus, load_map
from coalwatch.station.poller import DevicePoller, DeviceState, Outcome
from coalwatch.station.registers import RegisterMap

HERE = Path(__file__).parent
BW500 = load_map("bw500", HERE)
IO = load_map("station_io", HERE)
TRIPS = load_map("trip_indicator", HERE)
START = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Rig:
    server: RegisterServer
    regs: Registers
    map: RegisterMap
    poller: DevicePoller
    clock: Clock

    async def poll(self) -> list[dict[str, Any]]:
        outcome: Outcome = await self.poller.poll(self.clock)
        self.poller.adopt(outcome.state)
        return outcome.records

    def put(self, name: str, value: Any) -> None:
        self.regs.put(self.map, getattr(self.map, name), value)

    def bit(self, name: str, on: bool) -> None:
        self.regs.set_bit(self.map, getattr(self.map, name), on)


def bw500_registers(total: str = "1000.000", flow: str = "600.000") -> Registers:
    regs = Registers()
    assert BW500.totalizer and BW500.flow and BW500.error_code
    regs.put(BW500, BW500.totalizer, total)
    regs.put(BW500, BW500.flow, flow)
    regs.put(BW500, BW500.error_code, 0)
    for i, spec in enumerate(BW500.parameters):
        regs.put(BW500, spec, 100 + i)
    return regs


def io_registers() -> Registers:
    regs = Registers()
    assert IO.conveyor_running and IO.door_open and IO.mains_power
    regs.set_bit(IO, IO.conveyor_running, True)
    regs.set_bit(IO, IO.door_open, False)
    regs.set_bit(IO, IO.mains_power, True)
    return regs


def trip_registers(count: int = 10, net_kg: int = 9000) -> Registers:
    regs = Registers()
    assert TRIPS.trip_counter and TRIPS.trip_net and TRIPS.error_code
    regs.put(TRIPS, TRIPS.trip_counter, count)
    regs.put(TRIPS, TRIPS.trip_net, net_kg)
    regs.put(TRIPS, TRIPS.error_code, 0)
    for spec in TRIPS.parameters:
        regs.put(TRIPS, spec, 1)
    return regs


@contextmanager
def rig(
    registers: RegisterMap, regs: Registers, point: str = "B1", fault_after: int = 3
) -> Iterator[Rig]:
    with register_server({1: regs}) as server:
        bus = Bus("scale", TcpBus(kind="tcp", host="127.0.0.1", port=server.port, timeout_s=0.3))
        poller = DevicePoller(point, 0, 1, registers, bus, fault_after)
        yield Rig(server, regs, registers, poller, Clock())


def run(r: Rig, main: Callable[[], Awaitable[None]]) -> None:
    """The test's polls in one event loop; the bus closes in that loop too."""

    async def inner() -> None:
        try:
            await main()
        finally:
            r.poller.bus.close()

    asyncio.run(inner())


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r.get("event") or r["type"] for r in records]


def test_each_poll_emits_a_totalizer_sample_in_tonnes_with_flow() -> None:
    with rig(BW500, bw500_registers("1234.567", "640.5")) as r:

        async def main() -> None:
            (sample,) = await r.poll()
            assert sample["type"] == "totalizer" and sample["point"] == "B1"
            assert sample["total_t"] == Decimal("1234.567")
            assert sample["flow_tph"] == Decimal("640.500")
            assert datetime.fromisoformat(sample["ts"]).tzinfo is not None
            r.put("totalizer", "1234.900")
            (sample,) = await r.poll()
            assert sample["total_t"] == Decimal("1234.900")

        run(r, main)


def test_a_drop_far_from_the_modulus_is_a_reset_told_as_parameter_change() -> None:
    with rig(BW500, bw500_registers("5000.000")) as r:

        async def main() -> None:
            await r.poll()
            r.put("totalizer", "3.000")
            reset, sample = await r.poll()
            assert reset["event"] == "parameter_change"
            assert reset["detail"] == "totalizer reset from 5000.000 t to 3.000 t"
            assert sample["total_t"] == Decimal("3.000")

        run(r, main)


def test_a_wrap_at_the_modulus_is_not_a_reset() -> None:
    # 4294967.000 → 2.000: a drop of more than half the modulus 4294967.296 is a rollover
    with rig(BW500, bw500_registers("4294967.000")) as r:

        async def main() -> None:
            await r.poll()
            r.put("totalizer", "2.000")
            assert kinds(await r.poll()) == ["totalizer"]

        run(r, main)


def test_an_off_or_negative_flow_omits_the_flow_but_keeps_the_sample() -> None:
    signed = RegisterMap.model_validate(
        {
            "totalizer": {"address": 0, "type": "uint32", "decimals": 3},
            "flow": {"address": 2, "type": "int16", "sentinels": [30000]},
        }
    )
    regs = Registers(holding={0: 0, 1: 1000, 2: 30000})  # 1.000 t; flow "off"
    with rig(signed, regs) as r:

        async def main() -> None:
            (sample,) = await r.poll()
            assert sample["total_t"] == Decimal("1.000") and "flow_tph" not in sample
            r.regs.holding[2] = 0xFFFF  # -1 t/h on an empty belt: no flow figure
            (sample,) = await r.poll()
            assert "flow_tph" not in sample
            r.regs.holding[2] = 5
            (sample,) = await r.poll()
            assert sample["flow_tph"] == Decimal("5.000")

        run(r, main)


def test_a_flow_out_of_range_is_dropped_told_once_and_the_total_still_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # an off-by-one address base: the flow reads 4,294,967.295 t/h (above 10^6 t/h)
    regs = bw500_registers(flow="4294967.295")
    with rig(BW500, regs) as r, caplog.at_level(logging.WARNING):

        async def main() -> None:
            first = await r.poll()
            assert kinds(first) == ["invalid_data", "totalizer"]
            assert "flow 4294967.295 t/h above 1000000" in first[0]["detail"]
            assert "flow_tph" not in first[1] and first[1]["total_t"] == Decimal("1000.000")
            r.put("totalizer", "1000.250")
            again = await r.poll()  # the same condition: not told again
            assert kinds(again) == ["totalizer"] and "flow_tph" not in again[0]
            assert again[0]["total_t"] == Decimal("1000.250")
            r.put("flow", "450")
            (back,) = await r.poll()
            assert back["flow_tph"] == Decimal("450.000")
            r.put("flow", "4294967.295")
            assert kinds(await r.poll()) == ["invalid_data", "totalizer"]  # a new condition

        run(r, main)
    assert caplog.text.count("above 1000000") == 2


def test_a_sentinel_in_the_totalizer_is_a_failed_poll() -> None:
    sentinel = RegisterMap.model_validate(
        {"totalizer": {"address": 0, "type": "uint16", "sentinels": [22222]}}
    )
    with rig(sentinel, Registers(holding={0: 22222}), fault_after=1) as r:

        async def main() -> None:
            (fault,) = await r.poll()
            assert fault["event"] == "device_fault"
            assert "sentinel code 22222" in fault["detail"]

        run(r, main)


def test_a_trip_is_emitted_when_the_counter_advances_and_the_first_look_is_a_baseline() -> None:
    with rig(TRIPS, trip_registers(10, 9000), point="K1") as r:

        async def main() -> None:
            assert await r.poll() == []  # 10 trips before the station: not ours to count
            assert await r.poll() == []
            r.put("trip_counter", 11)
            r.put("trip_net", 8250)
            (trip,) = await r.poll()
            assert trip["type"] == "trip" and trip["point"] == "K1"
            assert trip["net_t"] == Decimal("8.250")
            assert "missed" not in trip
            assert await r.poll() == []

        run(r, main)


def test_a_counter_that_advanced_by_three_emits_one_trip_and_flags_two(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with rig(TRIPS, trip_registers(10), point="K1") as r:

        async def main() -> None:
            await r.poll()
            r.put("trip_counter", 13)
            r.put("trip_net", 10000)
            (trip,) = await r.poll()
            assert trip["net_t"] == Decimal("10.000")
            assert trip["missed"] == 2

        run(r, main)
    assert "2 trips not weighed" in caplog.text


def test_a_trip_counter_wraps_at_its_modulus() -> None:
    with rig(TRIPS, trip_registers(2**32 - 1), point="K1") as r:

        async def main() -> None:
            await r.poll()
            r.put("trip_counter", 0)
            (trip,) = await r.poll()
            assert trip["type"] == "trip" and "missed" not in trip

        run(r, main)


def test_conveyor_changes_are_conveyor_records() -> None:
    with rig(IO, io_registers()) as r:

        async def main() -> None:
            (first,) = await r.poll()  # the station tells the state it first sees
            assert first == {"ts": first["ts"], "type": "conveyor", "point": "B1", "running": True}
            assert await r.poll() == []
            r.bit("conveyor_running", False)
            (stop,) = await r.poll()
            assert stop["running"] is False

        run(r, main)


def test_door_and_mains_events_and_normal_state_at_first_look_says_nothing() -> None:
    with rig(IO, io_registers()) as r:

        async def main() -> None:
            assert kinds(await r.poll()) == ["conveyor"]
            r.bit("door_open", True)
            assert kinds(await r.poll()) == ["enclosure_open"]
            r.bit("door_open", False)
            r.bit("mains_power", False)
            assert kinds(await r.poll()) == ["enclosure_closed", "power_off"]
            r.bit("mains_power", True)
            assert kinds(await r.poll()) == ["power_on"]

        run(r, main)


def test_an_open_door_at_first_look_is_told() -> None:
    regs = io_registers()
    assert IO.door_open is not None
    regs.set_bit(IO, IO.door_open, True)
    with rig(IO, regs) as r:

        async def main() -> None:
            assert kinds(await r.poll()) == ["conveyor", "enclosure_open"]

        run(r, main)


def test_a_parameter_change_names_the_register_that_changed() -> None:
    with rig(TRIPS, trip_registers(), point="K1") as r:

        async def main() -> None:
            await r.poll()
            r.regs.put(TRIPS, TRIPS.parameters[1], 555)
            (change,) = await r.poll()
            assert change["event"] == "parameter_change"
            assert change["detail"] == "parameters changed: 121: 1 → 555"
            assert await r.poll() == []

        run(r, main)


def test_n_failed_polls_emit_one_device_fault_and_success_one_device_ok(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with rig(BW500, bw500_registers(), fault_after=3) as r:

        async def main() -> None:
            await r.poll()
            r.server.stop()
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="coalwatch.station"):
                assert await r.poll() == []
                assert await r.poll() == []
                (fault,) = await r.poll()
                assert fault["event"] == "device_fault"
                assert "3 polls failed" in fault["detail"]
                assert await r.poll() == []  # told once
                r.server.start()
                ok, sample = await r.poll()
                assert ok["event"] == "device_ok" and sample["type"] == "totalizer"
            messages = [m for m in caplog.messages if "poll failed" in m]
            assert len(messages) == 1  # logged once on failure ...
            assert sum("answers again" in m for m in caplog.messages) == 1  # ... once on recovery

        run(r, main)


def test_an_instrument_error_code_is_a_device_fault() -> None:
    with rig(BW500, bw500_registers()) as r:

        async def main() -> None:
            await r.poll()
            r.put("error_code", 7)
            fault, _sample = await r.poll()
            assert fault["event"] == "device_fault"
            assert fault["detail"] == "instrument error code 7"
            assert kinds(await r.poll()) == ["totalizer"]
            r.put("error_code", 0)
            assert kinds(await r.poll()) == ["device_ok", "totalizer"]

        run(r, main)


def test_a_fault_known_before_a_restart_is_not_told_again() -> None:
    with rig(BW500, bw500_registers(), fault_after=1) as r:

        async def main() -> None:
            r.server.stop()
            (fault,) = await r.poll()
            assert fault["event"] == "device_fault"
            saved = r.poller.state.to_json()
            # the agent restarts: a new poller with the state from the outbox
            r.poller = DevicePoller("B1", 0, 1, BW500, r.poller.bus, 1, None)
            r.poller.adopt(DeviceState.from_json(saved))
            assert await r.poll() == []
            r.server.start()
            assert kinds(await r.poll()) == ["device_ok", "totalizer"]

        run(r, main)


def test_device_state_round_trips_through_json() -> None:
    state = DeviceState(
        total_t=Decimal("12.345"),
        trip_counter=4,
        conveyor_running=True,
        door_open=False,
        mains_on=True,
        parameters=(1, 2),
        fault="x",
    )
    assert DeviceState.from_json(state.to_json()) == state
    assert DeviceState.from_json(None) == DeviceState()
