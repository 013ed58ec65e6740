"""One instrument behind one Modbus TCP server (pymodbus), so one link can drop alone.

The server's datastore is a pymodbus ``SimDevice`` laid out from the instrument's
register map; on every request an action copies the instrument's current image
into the block being read, so a read always sees the value of that instant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from coalwatch.sim.image import BIT_TABLES, REGISTER_TABLES, Image
from coalwatch.station.registers import Table

log = logging.getLogger("coalwatch.sim")

#: Modbus function code → the table it reads or writes
_TABLE_OF_CODE = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}
#: SimDevice's non-shared blocks, in its order
_BLOCK_ORDER = (Table.COIL, Table.DISCRETE, Table.HOLDING, Table.INPUT)


def _blocks(image: Image) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
    """One contiguous block per table over the map's addresses (gaps read as 0, like
    a device whose whole register area is readable)."""
    blocks: list[list[SimData]] = []
    for table in _BLOCK_ORDER:
        if table in REGISTER_TABLES:
            words = image.registers[table]
            if not words:
                blocks.append([SimData(0, datatype=DataType.INVALID)])
                continue
            low, high = min(words), max(words)
            blocks.append(
                [SimData(low, values=[0] * (high - low + 1), datatype=DataType.REGISTERS)]
            )
        else:
            bits = image.bits[table]
            # pymodbus needs a bit block even for a table the instrument lacks; the
            # action refuses requests to such a table
            low, high = (min(bits), max(bits)) if bits else (0, 0)
            blocks.append([SimData(low, values=[False] * (high - low + 1), datatype=DataType.BITS)])
    return blocks[0], blocks[1], blocks[2], blocks[3]


class InstrumentServer:
    """A Modbus TCP server for one instrument; ``stop`` then ``start`` reopens the same port."""

    def __init__(
        self,
        name: str,
        render: Callable[[], Image],
        host: str,
        port: int,
        unit: int,
        write: Callable[[int, list[int]], bool] | None = None,
        serial: str | None = None,
        set_coil: Callable[[int, bool], bool] | None = None,
    ):
        self.name = name
        #: takes holding registers written by the station (an instrument's read handshake)
        self._write = write
        #: takes a coil written by the station (an I/O module's output)
        self._set_coil = set_coil
        #: a serial device (e.g. one end of a pty pair) to answer Modbus RTU on, not TCP
        self.serial = serial
        self.host = host
        self.port = port
        self.unit = unit
        self._render = render
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        image = render()
        self._tables = {t for t, words in image.registers.items() if words} | {
            t for t, bits in image.bits.items() if bits
        }

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        table = _TABLE_OF_CODE.get(function_code)
        if table is None or table not in self._tables:
            return ExcCodes.ILLEGAL_ADDRESS
        if set_values is not None:
            # read only to the station, but for a handshake's registers and an output coil
            if table is Table.HOLDING and self._write is not None:
                accepted = self._write(address, [int(v) for v in set_values])
            elif table is Table.COIL and self._set_coil is not None:
                writes = enumerate(set_values, start=address)
                accepted = all(self._set_coil(a, bool(v)) for a, v in writes)
            else:
                return ExcCodes.ILLEGAL_ADDRESS
            if not accepted:
                return ExcCodes.ILLEGAL_ADDRESS
            return None
        image = self._render()
        if table in BIT_TABLES:
            # bit blocks are packed 16 to a word, bit 0 first (pymodbus SimUtils)
            for bit_address, on in image.bits[table].items():
                index, mask = bit_address // 16 - start_address, 1 << (bit_address % 16)
                registers[index] = registers[index] | mask if on else registers[index] & ~mask
        else:
            for offset, word in image.registers[table].items():
                registers[offset - start_address] = word
        return None

    async def start(self) -> None:
        """Listen (on a free port the first time when ``port`` is 0, later on the same one)."""
        if self._server is not None:
            return
        device = SimDevice(self.unit, simdata=_blocks(self._render()), action=self._action)
        if self.serial is not None:
            serial = ModbusSerialServer(
                device, framer=FramerType.RTU, port=self.serial, baudrate=9600, timeout=1
            )
            await serial.serve_forever(background=True)
            self._server = serial
            log.debug("%s answers Modbus RTU on %s", self.name, self.serial)
            return
        server = ModbusTcpServer(device, address=(self.host, self.port))
        await server.serve_forever(background=True)
        listener = cast(asyncio.Server, server.transport)
        self.port = listener.sockets[0].getsockname()[1]
        self._server = server
        log.debug("%s listens on %s:%d", self.name, self.host, self.port)

    async def stop(self) -> None:
        """Close the listening socket and every open connection (the link drops)."""
        server, self._server = self._server, None
        if server is None:
            return
        await shut_down(server)
        log.debug("%s stopped listening", self.name)


async def shut_down(server: ModbusTcpServer | ModbusSerialServer) -> None:
    """Close a server's listening socket (or serial port) and every open connection."""
    listener = server.transport
    await server.shutdown()  # type: ignore[no-untyped-call]
    if isinstance(listener, asyncio.Server):
        await listener.wait_closed()
    if ModbusBaseServer.active_server is server:
        # pymodbus keeps the last server in a class attribute: do not keep ours alive
        ModbusBaseServer.active_server = None
    # let the closed connections' transports finish closing their sockets
    await asyncio.sleep(0)


def serve_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` in this thread until it is stopped, then cancel what is left."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
