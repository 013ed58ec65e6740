"""Simulators served for real, read with a real pymodbus client and the shipped maps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ModbusPDU

from coalwatch.sim import SimSet
from coalwatch.station.config import load_map
from coalwatch.station.registers import Bit, RegisterMap, RegisterValue, Table, bit_value, decode


class Reader:
    """Reads one instrument the way the station will: by its map, over Modbus TCP."""

    def __init__(self, sims: SimSet, key: str, map_name: str) -> None:
        host, port = sims.endpoints[key]
        self.map: RegisterMap = load_map(map_name, Path.cwd())
        self.client = ModbusTcpClient(host, port=port, timeout=0.5, retries=0)

    def _registers(self, table: Table, offset: int, count: int) -> ModbusPDU:
        read = (
            self.client.read_input_registers
            if table is Table.INPUT
            else self.client.read_holding_registers
        )
        response = read(offset, count=count, device_id=1)
        assert not response.isError(), response
        return response

    def value(self, spec: RegisterValue | None) -> Decimal:
        assert spec is not None
        response = self._registers(spec.table, self.map.offset(spec.address), spec.words)
        return decode(response.registers, spec)

    def bit(self, spec: Bit | None) -> bool:
        assert spec is not None
        offset = self.map.offset(spec.address)
        if spec.table is Table.DISCRETE:
            response = self.client.read_discrete_inputs(offset, count=1, device_id=1)
        elif spec.table is Table.COIL:
            response = self.client.read_coils(offset, count=1, device_id=1)
        else:
            return bit_value(self._registers(spec.table, offset, 1).registers[0], spec)
        assert not response.isError(), response
        return bit_value(response.bits[0], spec)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def no_threads_left() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before]
    assert not left, f"threads left behind: {left}"


@pytest.fixture
def serve(no_threads_left: None) -> Iterator[Callable[..., SimSet]]:
    """``serve(belts=..., trips=...)``: a started SimSet, stopped after the test."""
    started: list[SimSet] = []

    def start(**kwargs: object) -> SimSet:
        sims = SimSet(**kwargs)  # type: ignore[arg-type]
        sims.start()
        started.append(sims)
        return sims

    yield start
    for sims in started:
        sims.stop()


@pytest.fixture
def reader() -> Iterator[Callable[[SimSet, str, str], Reader]]:
    opened: list[Reader] = []

    def open_reader(sims: SimSet, key: str, map_name: str) -> Reader:
        r = Reader(sims, key, map_name)
        opened.append(r)
        return r

    yield open_reader
    for r in opened:
        r.close()
