"""The register server of the simulators package (what the station tests talk to), read
with a plain pymodbus client: the values set, a gap within a table read as 0, and the
protocol's refusals: past a table's span (exception 2), more than 125 registers in one
request (an exception answer), an injected refusal, and a silent link."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from coalwatch.sim.registers import Registers, RegisterServer, register_server


@pytest.fixture
def server() -> Iterator[RegisterServer]:
    unit = Registers(holding={0: 7, 2: 9, 200: 1}, discrete={0: True, 2: True})
    with register_server({1: unit}) as running:
        yield running


@pytest.fixture
def client(server: RegisterServer) -> Iterator[ModbusTcpClient]:
    modbus = ModbusTcpClient("127.0.0.1", port=server.port, timeout=1, retries=0)
    assert modbus.connect()
    yield modbus
    modbus.close()


def test_values_and_a_gap_within_the_span(client: ModbusTcpClient) -> None:
    answer = client.read_holding_registers(0, count=3, device_id=1)
    assert not answer.isError() and answer.registers == [7, 0, 9]
    bits = client.read_discrete_inputs(0, count=3, device_id=1)
    assert not bits.isError() and bits.bits[:3] == [True, False, True]


def test_past_the_span_is_an_illegal_address(client: ModbusTcpClient) -> None:
    answer = client.read_holding_registers(201, count=1, device_id=1)
    assert answer.isError() and answer.exception_code == 2


def test_more_than_125_registers_is_an_illegal_value(
    server: RegisterServer, client: ModbusTcpClient
) -> None:
    assert not client.read_holding_registers(0, count=125, device_id=1).isError()
    # pymodbus' client will not even send 126: a raw request, MBAP header + PDU
    # (transaction 1, protocol 0, 6 bytes follow, unit 1; function 3, address 0, count 126)
    request = struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0, 126)
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
        raw.sendall(request)
        reply = raw.recv(64)
    # refused with an exception answer and no registers. The Modbus spec asks for function
    # 3 | 0x80 with code 3 (illegal data value); pymodbus cannot decode such a request and
    # answers 0x80 with code 1 (illegal function)
    assert len(reply) == 9 and reply[7] & 0x80, reply


def test_an_injected_refusal_and_its_end(server: RegisterServer, client: ModbusTcpClient) -> None:
    server.refuse(1, 2, code=4)  # server device failure, for requests touching address 2
    answer = client.read_holding_registers(0, count=3, device_id=1)
    assert answer.isError() and answer.exception_code == 4
    assert client.read_holding_registers(0, count=2, device_id=1).registers == [7, 0]
    server.allow(1, 2)
    assert client.read_holding_registers(2, count=1, device_id=1).registers == [9]


def test_a_silent_link_answers_nothing(server: RegisterServer, client: ModbusTcpClient) -> None:
    before = server.requests
    server.silent = True
    with pytest.raises(ModbusIOException):
        client.read_holding_registers(0, count=1, device_id=1)
    assert server.requests == before + 1
