"""A Modbus server (pymodbus) over register tables that a test or a bench sets at will:
several units on one line, Modbus TCP framing or RTU frames over TCP (a serial server),
and faults to inject while it runs.

Each unit's tables are read at the instant of each request. Within a table's span (from
address 0 to its highest address set when the server starts) an address that is not set
reads 0, as the instrument simulators' registers do; beyond it pymodbus answers exception
2 (illegal data address). A request for more than 125 registers gets an exception answer
too (pymodbus' "illegal function" 0x80/1, where the spec has 0x83/3).

The station reads and never writes, except a point's warning output 声光预警: a coil made
writable with ``Registers.add_output`` takes writes (functions 05 and 15); every other
write is refused (illegal function), as the instruments refuse it.

Faults: ``silent`` (the link swallows every answer), ``refuse(unit, address, code)`` (an
exception response for requests touching that address), ``stop``/``start`` (the server
stops listening and comes back on the same port). ``requests`` counts the requests
received.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from coalwatch.sim.server import serve_loop, shut_down
from coalwatch.station.registers import Bit, RegisterMap, RegisterValue, Table, encode

_START_TIMEOUT_S = 10
#: Modbus function code → the table it reads
_TABLE_OF_CODE = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}
#: write single coil, write multiple coils
_WRITE_COILS = (5, 15)
_BIT_TABLES = (Table.COIL, Table.DISCRETE)


@dataclass
class Registers:
    """One unit's tables: protocol address → word or bit."""

    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    discrete: dict[int, bool] = field(default_factory=dict)
    #: coils the station may write (an I/O module's relay outputs), and the writes taken
    outputs: set[int] = field(default_factory=set)
    writes: list[tuple[int, bool]] = field(default_factory=list)

    def add_output(self, address: int) -> None:
        """A relay output at coil ``address`` (off), writable by the station."""
        self.coils[address] = False
        self.outputs.add(address)

    def table(self, table: Table) -> dict[int, Any]:
        tables: dict[Table, dict[int, Any]] = {
            Table.HOLDING: self.holding,
            Table.INPUT: self.input,
            Table.COIL: self.coils,
            Table.DISCRETE: self.discrete,
        }
        return tables[table]

    def put(self, registers: RegisterMap, spec: RegisterValue, value: Decimal | int | str) -> None:
        """A value encoded at its map address (as an instrument would hold it)."""
        self.put_raw(registers, spec, encode(Decimal(value), spec))

    def put_raw(self, registers: RegisterMap, spec: RegisterValue, words: list[int]) -> None:
        table = self.holding if spec.table is Table.HOLDING else self.input
        start = registers.offset(spec.address)
        for i, word in enumerate(words):
            table[start + i] = word

    def set_bit(self, registers: RegisterMap, spec: Bit, on: bool) -> None:
        """The input as the contact shows it (inversion applied like the device would)."""
        raw = on != spec.invert
        offset = registers.offset(spec.address)
        if spec.table is Table.DISCRETE:
            self.discrete[offset] = raw
        elif spec.table is Table.COIL:
            self.coils[offset] = raw
        else:
            words = self.holding if spec.table is Table.HOLDING else self.input
            assert spec.bit is not None
            mask = 1 << spec.bit
            words[offset] = (words.get(offset, 0) | mask) if raw else words.get(offset, 0) & ~mask


class RegisterServer:
    """A threaded pymodbus server on loopback; ``units`` maps unit id → Registers."""

    def __init__(
        self, units: dict[int, Registers], framing: str = "socket", host: str = "127.0.0.1"
    ) -> None:
        self.units = units
        self.framing = FramerType.RTU if framing == "rtu" else FramerType.SOCKET
        self.host = host
        self.port = 0
        self.silent = False
        self.requests = 0
        self._refusals: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusTcpServer | None = None

    # -- faults ----------------------------------------------------------------------------

    def refuse(self, unit: int, address: int, code: int = 2) -> None:
        """Answer requests to ``unit`` that touch ``address`` with exception ``code``."""
        self._refusals[(unit, address)] = code

    def allow(self, unit: int, address: int) -> None:
        self._refusals.pop((unit, address), None)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> RegisterServer:
        """Listen (a free port the first time, the same one afterwards)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=serve_loop, args=(self._loop,), name="register-server", daemon=True
            )
            self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection (the thread keeps running)."""
        if self._loop is not None:
            self._call(self._stop())

    def close(self) -> None:
        self.stop()
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            assert self._thread is not None
            self._thread.join(_START_TIMEOUT_S)

    def _call(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_START_TIMEOUT_S)

    async def _start(self) -> None:
        if self._server is not None:
            return
        devices = [
            SimDevice(unit, simdata=self._blocks(registers), action=self._action_for(unit))
            for unit, registers in self.units.items()
        ]
        server = ModbusTcpServer(
            devices,
            framer=self.framing,
            address=(self.host, self.port),
            ignore_missing_devices=True,
            trace_packet=self._trace,
        )
        await server.serve_forever(background=True)
        listener = cast(asyncio.Server, server.transport)
        self.port = listener.sockets[0].getsockname()[1]
        self._server = server

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await shut_down(server)

    @staticmethod
    def _blocks(
        registers: Registers,
    ) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        blocks: list[list[SimData]] = []
        for table in (Table.COIL, Table.DISCRETE, Table.HOLDING, Table.INPUT):
            values = registers.table(table)
            high = max(values, default=0)
            if table in _BIT_TABLES:
                blocks.append([SimData(0, values=[False] * (high + 1), datatype=DataType.BITS)])
            else:
                blocks.append([SimData(0, values=[0] * (high + 1), datatype=DataType.REGISTERS)])
        return blocks[0], blocks[1], blocks[2], blocks[3]

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            with self._lock:
                self.requests += 1
            return data
        return b"" if self.silent else data

    def _action_for(self, unit: int) -> Any:
        """The SimDevice action of ``unit``: copies its tables into the block being read."""
        return functools.partial(self._answer, unit)

    async def _answer(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if function_code in _WRITE_COILS:
            if set_values is not None:
                return self._write_coils(unit, address, [bool(v) for v in set_values])
            table: Table | None = Table.COIL  # the write's answer reads the coils back
        else:
            table = _TABLE_OF_CODE.get(function_code)
        if table is None or set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # the instruments are read only to the station
        for wanted in range(address, address + count):
            code = self._refusals.get((unit, wanted))
            if code is not None:
                return ExcCodes(code)
        values = self.units[unit].table(table)
        if table in _BIT_TABLES:
            # bit blocks are packed 16 to a word, bit 0 first (pymodbus SimUtils); the words
            # given are the block's from word ``start_address`` on
            for index in range(len(registers)):
                word = 0
                for bit in range(16):
                    if values.get((start_address + index) * 16 + bit, False):
                        word |= 1 << bit
                registers[index] = word
        else:
            for offset in range(address, address + count):
                registers[offset - start_address] = values.get(offset, 0)
        return None

    def _write_coils(self, unit: int, address: int, values: list[bool]) -> ExcCodes | None:
        registers = self.units[unit]
        wanted = range(address, address + len(values))
        if not all(a in registers.outputs for a in wanted):
            return ExcCodes.ILLEGAL_FUNCTION  # not an output: read only to the station
        with self._lock:
            for offset, value in zip(wanted, values, strict=True):
                registers.coils[offset] = value
                registers.writes.append((offset, value))
        return None


@contextmanager
def register_server(
    units: dict[int, Registers], framing: str = "socket"
) -> Iterator[RegisterServer]:
    server = RegisterServer(units, framing).start()
    try:
        yield server
    finally:
        server.close()
