"""Field buses: grouped reads, TCP and RTU over TCP framing, failures and recovery."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import threading

import pytest

from coalwatch.sim.registers import Registers, RegisterServer, register_server
from coalwatch.station.bus import Bus, BusError, Group, plan_groups
from coalwatch.station.config import RtuBus, RtuOverTcpBus, TcpBus
from coalwatch.station.registers import Table

H, D = Table.HOLDING, Table.DISCRETE


def test_touching_ranges_of_a_table_merge_into_one_request() -> None:
    # flow 1009-1010 and totalizer 1015-1016 do not touch: two requests;
    # a counter 100-101 and the net weight 102-103 touch: one request
    items = [
        Group(H, 1015, 2),
        Group(H, 1009, 2),
        Group(H, 100, 2),
        Group(H, 102, 2),
        Group(D, 0, 1),
        Group(D, 1, 1),
        Group(D, 1, 1),  # a second bit of the same input
    ]
    groups, where = plan_groups(items)
    assert groups == [Group(D, 0, 2), Group(H, 100, 4), Group(H, 1009, 2), Group(H, 1015, 2)]
    assert where == [(3, 0), (2, 0), (1, 0), (1, 2), (0, 0), (0, 1), (0, 1)]


def test_a_merged_request_stays_within_the_modbus_limit() -> None:
    groups, _ = plan_groups([Group(H, i * 2, 2) for i in range(100)])
    assert [g.count for g in groups] == [124, 76]


def tcp(port: int, timeout: float = 0.5) -> TcpBus:
    return TcpBus(kind="tcp", host="127.0.0.1", port=port, timeout_s=timeout)


def test_reads_registers_and_bits_over_tcp() -> None:
    unit = Registers(holding={10: 1, 11: 2, 12: 3}, discrete={0: True, 1: False, 2: True})
    with register_server({5: unit}) as server:

        async def main() -> list[list[int] | list[bool]]:
            bus = Bus("scale", tcp(server.port))
            try:
                return await bus.read(5, [Group(H, 10, 3), Group(D, 0, 3)])
            finally:
                bus.close()

        assert asyncio.run(main()) == [[1, 2, 3], [True, False, True]]


def test_reads_rtu_frames_through_a_serial_server() -> None:
    with register_server({2: Registers(holding={0: 0xBEEF, 1: 7})}, framing="rtu") as server:

        async def main() -> list[list[int] | list[bool]]:
            spec = RtuOverTcpBus(kind="rtu_over_tcp", host="127.0.0.1", port=server.port)
            bus = Bus("line", spec)
            try:
                return await bus.read(2, [Group(H, 0, 2)])
            finally:
                bus.close()

        assert asyncio.run(main()) == [[0xBEEF, 7]]


def test_an_exception_response_fails_the_read_but_keeps_the_connection() -> None:
    with register_server({1: Registers(holding={0: 1})}) as server:
        server.refuse(1, 50, code=2)  # illegal data address

        async def main() -> None:
            bus = Bus("scale", tcp(server.port))
            try:
                with pytest.raises(BusError, match="exception response"):
                    await bus.read(1, [Group(H, 50, 1)])
                client = bus._client
                assert await bus.read(1, [Group(H, 0, 1)]) == [[1]]
                assert bus._client is client
            finally:
                bus.close()

        asyncio.run(main())


def test_no_server_no_answer_and_recovery() -> None:
    with register_server({1: Registers(holding={0: 42})}) as server:

        async def main() -> None:
            bus = Bus("scale", tcp(server.port, timeout=0.3))
            try:
                assert await bus.read(1, [Group(H, 0, 1)]) == [[42]]
                server.silent = True  # the link swallows requests
                with pytest.raises(BusError, match=r"no answer|No response"):
                    await bus.read(1, [Group(H, 0, 1)])
                assert bus._client is None  # dropped: a late answer cannot be misread
                server.silent = False
                server.stop()
                with pytest.raises(BusError, match="cannot connect"):
                    await bus.read(1, [Group(H, 0, 1)])
                server.start()  # same port
                assert await bus.read(1, [Group(H, 0, 1)]) == [[42]]
            finally:
                bus.close()

        asyncio.run(main())


def test_one_request_at_a_time_on_a_bus() -> None:
    with register_server({1: Registers(holding={0: 1}), 2: Registers(holding={0: 2})}) as server:

        async def main() -> list[list[list[int] | list[bool]]]:
            bus = Bus("line", tcp(server.port))
            try:
                reads = [bus.read(u, [Group(H, 0, 1)]) for u in (1, 2, 1, 2)]
                return await asyncio.gather(*reads)
            finally:
                bus.close()

        assert asyncio.run(main()) == [[[1]], [[2]], [[1]], [[2]]]


def test_reads_rtu_over_a_serial_line() -> None:
    # a pseudo-terminal stands in for the RS-485 adapter; its far end is wired, byte for
    # byte, to the simulated line (RTU frames over TCP), as a transparent serial server is
    master, slave = os.openpty()
    device = os.ttyname(slave)
    server = RegisterServer({3: Registers(input={7: 1234})}, framing="rtu").start()
    link = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    stop = threading.Event()

    def wire() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master, link], [], [], 0.05)
            if master in ready:
                link.sendall(os.read(master, 256))
            if link in ready:
                os.write(master, link.recv(256))

    thread = threading.Thread(target=wire)
    thread.start()

    async def main() -> list[list[int] | list[bool]]:
        bus = Bus("rs485", RtuBus(kind="rtu", device=device, baudrate=9600, timeout_s=0.5))
        try:
            return await bus.read(3, [Group(Table.INPUT, 7, 1)])
        finally:
            bus.close()

    try:
        assert asyncio.run(main()) == [[1234]]
    finally:
        stop.set()
        thread.join()
        link.close()
        server.close()
        os.close(master)
        os.close(slave)
