"""Field buses: one Modbus client and one lock per bus (Modbus TCP, RTU, RTU over TCP).

A bus carries one request at a time (RS-485 is half duplex; a serial server
forwards one frame at a time), so every read holds the bus lock. A failed read
drops the connection: the next read starts from a fresh one, and a late answer
to a timed-out request can never be taken for the next one's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from coalwatch.station.config import RtuBus, RtuOverTcpBus, TcpBus
from coalwatch.station.registers import Table

#: Modbus limits per request
MAX_REGISTERS = 125
MAX_BITS = 2000


class BusError(Exception):
    """A read failed: no connection, no answer in time, or an exception response."""


@dataclass(frozen=True, slots=True)
class Group:
    """One read request: ``count`` registers or bits of a table from a protocol address."""

    table: Table
    offset: int
    count: int

    @property
    def end(self) -> int:
        return self.offset + self.count


Words = list[int] | list[bool]


class Bus:
    """A field bus with its client; reads are serialised by the bus lock."""

    def __init__(self, name: str, spec: TcpBus | RtuOverTcpBus | RtuBus) -> None:
        self.name = name
        self.spec = spec
        self.lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None

    def describe(self) -> str:
        if isinstance(self.spec, RtuBus):
            return f"{self.name} (rtu {self.spec.device})"
        return f"{self.name} ({self.spec.kind} {self.spec.host}:{self.spec.port})"

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        spec = self.spec
        # reconnect_delay=0: no background reconnect task; the next read reconnects.
        # One retry on serial lines (a frame lost to noise is common); none on TCP.
        if isinstance(spec, RtuBus):
            return AsyncModbusSerialClient(
                spec.device,
                framer=FramerType.RTU,
                baudrate=spec.baudrate,
                bytesize=spec.bytesize,
                parity=spec.parity,
                stopbits=spec.stopbits,
                timeout=spec.timeout_s,
                retries=1,
                reconnect_delay=0,
                name=self.name,
            )
        return AsyncModbusTcpClient(
            spec.host,
            port=spec.port,
            framer=FramerType.RTU if isinstance(spec, RtuOverTcpBus) else FramerType.SOCKET,
            timeout=spec.timeout_s,
            retries=1 if isinstance(spec, RtuOverTcpBus) else 0,
            reconnect_delay=0,
            name=self.name,
        )

    async def _connected(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is not None and self._client.connected:
            return self._client
        self.close()
        client = self._make_client()
        if not await client.connect():
            client.close()
            raise BusError(f"bus {self.describe()}: cannot connect")
        self._client = client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(self, unit: int, groups: Sequence[Group]) -> list[Words]:
        """The values of each group, read in order under the bus lock."""
        async with self.lock:
            try:
                client = await self._connected()
                return [await self._read_one(client, unit, group) for group in groups]
            except BusError:
                raise
            except (ModbusException, OSError, TimeoutError) as exc:
                self.close()
                raise BusError(f"bus {self.describe()}, unit {unit}: {exc}") from exc

    async def handshake(
        self, unit: int, offset: int, request: list[int], answer: int, attempts: int
    ) -> list[int]:
        """Write ``request`` at ``offset`` (one write-multiple-registers), then read it back
        until the device echoes it, and return the ``answer`` words that follow it.

        The one write the station makes: a device's read handshake (the caller writes only
        the request words). Raises BusError when the echo does not come (another client
        using the handshake at the same time, or a device without one).
        """
        async with self.lock:
            try:
                client = await self._connected()
                limit = self.spec.timeout_s * 3 + 1
                response = await asyncio.wait_for(
                    client.write_registers(offset, request, device_id=unit), limit
                )
                if response.isError():
                    raise BusError(
                        f"bus {self.describe()}, unit {unit}: exception response "
                        f"{getattr(response, 'exception_code', '?')} writing holding {offset}"
                    )
                group = Group(Table.HOLDING, offset, len(request) + answer)
                words: list[int] = []
                for attempt in range(attempts):
                    if attempt:
                        await asyncio.sleep(0.05)
                    words = [int(w) for w in await self._read_one(client, unit, group)]
                    if words[: len(request)] == request:
                        return words[len(request) :]
            except BusError:
                raise
            except TimeoutError:
                self.close()
                raise BusError(f"bus {self.describe()}, unit {unit}: no answer") from None
            except (ModbusException, OSError) as exc:
                self.close()
                raise BusError(f"bus {self.describe()}, unit {unit}: {exc}") from exc
        raise BusError(
            f"bus {self.describe()}, unit {unit}: the handshake at {offset} did not echo "
            f"{request} (read {words[: len(request)]})"
        )

    async def write_coil(self, unit: int, address: int, on: bool) -> None:
        """Switch one coil (function 05) under the bus lock: a point's warning output only."""
        async with self.lock:
            try:
                client = await self._connected()
                response = await asyncio.wait_for(
                    client.write_coil(address, on, device_id=unit), self.spec.timeout_s * 3 + 1
                )
            except BusError:
                raise
            except (ModbusException, OSError, TimeoutError) as exc:
                self.close()
                raise BusError(f"bus {self.describe()}, unit {unit}: {exc}") from exc
        if response.isError():
            raise BusError(
                f"bus {self.describe()}, unit {unit}: exception response "
                f"{getattr(response, 'exception_code', '?')} writing coil {address}"
            )

    async def _read_one(
        self, client: AsyncModbusTcpClient | AsyncModbusSerialClient, unit: int, group: Group
    ) -> Words:
        # a safety net above pymodbus' own timeout: a poll never hangs
        limit = self.spec.timeout_s * 3 + 1
        response: ModbusPDU
        if group.table is Table.HOLDING:
            request = client.read_holding_registers(group.offset, count=group.count, device_id=unit)
        elif group.table is Table.INPUT:
            request = client.read_input_registers(group.offset, count=group.count, device_id=unit)
        elif group.table is Table.COIL:
            request = client.read_coils(group.offset, count=group.count, device_id=unit)
        else:
            request = client.read_discrete_inputs(group.offset, count=group.count, device_id=unit)
        try:
            response = await asyncio.wait_for(request, limit)
        except TimeoutError:
            self.close()
            raise BusError(f"bus {self.describe()}, unit {unit}: no answer") from None
        if response.isError():
            # the link works: the device refused (wrong address, busy); keep the connection
            raise BusError(
                f"bus {self.describe()}, unit {unit}: exception response "
                f"{getattr(response, 'exception_code', '?')} reading {group.table.value} "
                f"{group.offset}+{group.count}"
            )
        if group.table in (Table.COIL, Table.DISCRETE):
            bits = list(response.bits)[: group.count]
            if len(bits) < group.count:
                raise BusError(f"bus {self.describe()}, unit {unit}: short answer")
            return bits
        registers = list(response.registers)
        if len(registers) != group.count:
            raise BusError(f"bus {self.describe()}, unit {unit}: short answer")
        return registers


def plan_groups(items: Sequence[Group]) -> tuple[list[Group], list[tuple[int, int]]]:
    """Merge reads of adjacent or overlapping ranges of a table into single requests.

    Ranges are merged only when they touch: an instrument may refuse a read
    that spans an address it does not define. Returns the requests and, for
    each item, (request index, offset of the item in that request).
    """
    order = sorted(range(len(items)), key=lambda i: (items[i].table.value, items[i].offset))
    groups: list[Group] = []
    where: dict[int, tuple[int, int]] = {}
    for i in order:
        item = items[i]
        limit = MAX_BITS if item.table in (Table.COIL, Table.DISCRETE) else MAX_REGISTERS
        if groups:
            last = groups[-1]
            end = max(last.end, item.end)
            if last.table is item.table and item.offset <= last.end and end - last.offset <= limit:
                groups[-1] = Group(last.table, last.offset, end - last.offset)
                where[i] = (len(groups) - 1, item.offset - last.offset)
                continue
        groups.append(item)
        where[i] = (len(groups) - 1, 0)
    return groups, [where[i] for i in range(len(items))]
