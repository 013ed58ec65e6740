"""The BW500 as its manual describes it: calibration read through the parameter-access
handshake (and nothing else written), the word-order format word checked against the map.
Against the BW500 simulator over real Modbus TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient

from coalwatch.sim import BeltSpec, Schedule, SimSet
from coalwatch.station.bus import Bus
from coalwatch.station.config import TcpBus, load_map
from coalwatch.station.poller import DevicePoller, DeviceState

HERE = Path(__file__).parent
BW500 = load_map("bw500", HERE)


class Clock:
    """Ten seconds a call: every poll is due for the handshake (every 5 s)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=10)
        return self.now


@pytest.fixture
def sims() -> Iterator[SimSet]:
    spec = BeltSpec(
        code="B1", rate_tph=600, start_t=Decimal(1000), schedule=Schedule(stop_min=0), seed=3
    )
    with SimSet(belts=[spec], io=False) as s:
        s.freeze()
        yield s


def polls(sims: SimSet, count: int, between: Any = None) -> list[list[dict[str, Any]]]:
    """``count`` polls of B1 by one poller; ``between(i)`` runs after poll i."""
    host, port = sims.endpoints["B1"]
    bus = Bus("scale", TcpBus(kind="tcp", host=host, port=port, timeout_s=0.5))
    poller = DevicePoller("B1", 0, 1, BW500, bus, fault_after=3)
    clock = Clock()

    async def main() -> list[list[dict[str, Any]]]:
        out = []
        try:
            for i in range(count):
                outcome = await poller.poll(clock)
                poller.adopt(outcome.state)
                out.append(outcome.records)
                if between is not None:
                    between(i)
        finally:
            bus.close()
        return out

    return asyncio.run(main())


def events(records: list[dict[str, Any]]) -> list[str]:
    return [r["event"] for r in records if r["type"] == "event"]


def test_a_calibration_change_behind_the_handshake_is_a_parameter_change(sims: SimSet) -> None:
    def calibrate(i: int) -> None:
        if i == 0:
            sims.inject("B1", "parameter_change", name="span", value=20480)

    first, second, third = polls(sims, 3, calibrate)
    assert events(first) == [] and events(third) == []
    (change,) = [r for r in second if r["type"] == "event"]
    assert change["event"] == "parameter_change"
    # the simulator's BW500 leaves the factory with a span count of 31577
    assert change["detail"] == "parameters changed: P368.1 span: 31577 → 20480"


def test_a_plc_using_the_handshake_is_no_parameter_change(sims: SimSet) -> None:
    host, port = sims.endpoints["B1"]

    def plc(i: int) -> None:
        # another master asks for P011 (design rate) through the same handshake area
        client = ModbusTcpClient(host, port=port)
        assert client.connect()
        try:
            assert not client.write_registers(89, [11, 1, 0, 0], device_id=1).isError()
        finally:
            client.close()

    results = polls(sims, 3, plc)
    assert [events(r) for r in results] == [[], [], []]
    assert all(r[-1]["type"] == "totalizer" for r in results)


def test_the_station_writes_only_the_handshake_request(sims: SimSet) -> None:
    polls(sims, 2)
    writes = sims.state("B1")["writes"]
    # five parameters a poll, two polls; 40,090 is protocol address 89 (base 40001)
    assert len(writes) == 10
    assert {(address, len(words)) for address, words in writes} == {(89, 4)}
    # the request: parameter, primary index, secondary index, format (decimals << 8, read)
    assert [w for _, w in writes[:5]] == [
        [15, 1, 0, 3 << 8],
        [16, 1, 0, 3 << 8],
        [367, 1, 0, 0],
        [368, 1, 0, 0],
        [631, 1, 0, 0],
    ]


def test_a_device_set_to_the_other_word_order_is_a_device_fault_not_a_total(
    sims: SimSet, caplog: pytest.LogCaptureFixture
) -> None:
    def switch(i: int) -> None:
        if i == 0:
            sims.inject("B1", "word_order_switch")
        if i == 2:
            sims.inject("B1", "word_order_switch")

    first, second, third, fourth = polls(sims, 4, switch)
    assert [r["type"] for r in first] == ["totalizer"]
    (fault,) = second
    assert fault["event"] == "device_fault"
    assert "format word 40062 reads 1 (CDAB" in fault["detail"]
    assert "totalizer (ABCD)" in fault["detail"]
    assert third == []  # told once; still no total while the order disagrees
    assert events(fourth) == ["device_ok"] and fourth[-1]["type"] == "totalizer"
    assert fourth[-1]["total_t"] == sims.state("B1")["total_t"]
    assert any("word order disagrees" in r.message for r in caplog.records)


def test_a_fingerprint_kept_under_the_old_map_is_a_new_baseline_not_a_change(
    sims: SimSet,
) -> None:
    # the state a station kept when the map read 40,090–40,093 as four parameter registers
    host, port = sims.endpoints["B1"]
    bus = Bus("scale", TcpBus(kind="tcp", host=host, port=port, timeout_s=0.5))
    kept = DeviceState(total_t=Decimal("1000.000"), parameters=(0, 0, 0, 0))
    poller = DevicePoller("B1", 0, 1, BW500, bus, fault_after=3, state=kept)

    async def main() -> list[dict[str, Any]]:
        try:
            outcome = await poller.poll(Clock())
        finally:
            bus.close()
        return outcome.records

    records = asyncio.run(main())
    assert [r["type"] for r in records] == ["totalizer"]
