"""Test doubles for the station: a tiny Modbus server and a center in memory.

``FakeModbus`` answers read requests (functions 1–4) from dictionaries the
test changes at will, over Modbus TCP framing or RTU frames over TCP (a serial
server), and can go silent (a link that swallows requests) or stop listening.
``FakeCenter`` keeps seqs like the real center (``coalwatch.domain.sequences``)
and can answer with errors, so the uploader's rules are tested without a server.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from coalwatch.domain.sequences import advance, is_held
from coalwatch.station.registers import Bit, RegisterMap, RegisterValue, Table, encode
from coalwatch.wire.batches import parse_body
from coalwatch.wire.signing import verify


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass
class Registers:
    """One unit's tables: protocol address → word or bit. Unset addresses are illegal."""

    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    discrete: dict[int, bool] = field(default_factory=dict)

    def put(self, registers: RegisterMap, spec: RegisterValue, value: Decimal | int | str) -> None:
        """A value encoded at its map address (as an instrument would hold it)."""
        table = self.holding if spec.table is Table.HOLDING else self.input
        start = registers.offset(spec.address)
        for i, word in enumerate(encode(Decimal(value), spec)):
            table[start + i] = word

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


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a restarted server takes the same port at once
    daemon_threads = True


class FakeModbus:
    """A threaded Modbus server on loopback; ``units`` maps unit id → Registers."""

    def __init__(self, units: dict[int, Registers], framing: str = "socket") -> None:
        self.units = units
        self.framing = framing
        self.silent = False
        self.requests = 0
        self.lock = threading.Lock()
        self.port = 0
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeModbus:
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                fake._serve(self.request)

        server = _Server(("127.0.0.1", self.port), Handler)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(5)
            self._server = None

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(0.05)
        buffer = b""
        while self._server is not None:
            try:
                chunk = sock.recv(512)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while True:
                frame, buffer = self._take_frame(buffer)
                if frame is None:
                    break
                answer = self._answer(*frame)
                if answer is not None and not self.silent:
                    sock.sendall(answer)

    def _take_frame(self, buffer: bytes) -> tuple[tuple[int, int, bytes] | None, bytes]:
        """(transaction id, unit, pdu) of the first complete request, and the rest."""
        if self.framing == "socket":
            if len(buffer) < 7:
                return None, buffer
            tid, _, length, unit = struct.unpack(">HHHB", buffer[:7])
            if len(buffer) < 6 + length:
                return None, buffer
            return (tid, unit, buffer[7 : 6 + length]), buffer[6 + length :]
        if len(buffer) < 8:  # read requests are 8 bytes in RTU
            return None, buffer
        frame, rest = buffer[:8], buffer[8:]
        if crc16(frame[:6]) != struct.unpack("<H", frame[6:])[0]:
            return None, b""
        return (0, frame[0], frame[1:6]), rest

    def _answer(self, tid: int, unit: int, pdu: bytes) -> bytes | None:
        with self.lock:
            self.requests += 1
            registers = self.units.get(unit)
            if registers is None:
                return None  # nobody at that address on the line: no answer
            function, address, count = struct.unpack(">BHH", pdu[:5])
            body = self._read(registers, function, address, count)
        reply = (
            struct.pack(">BB", function | 0x80, 2)
            if body is None
            else struct.pack(">BB", function, len(body)) + body
        )
        if self.framing == "socket":
            return struct.pack(">HHHB", tid, 0, len(reply) + 1, unit) + reply
        frame = bytes([unit]) + reply
        return frame + struct.pack("<H", crc16(frame))

    @staticmethod
    def _read(registers: Registers, function: int, address: int, count: int) -> bytes | None:
        addresses = range(address, address + count)
        if function in (3, 4):
            table = registers.holding if function == 3 else registers.input
            if any(a not in table for a in addresses):
                return None
            return b"".join(struct.pack(">H", table[a]) for a in addresses)
        if function in (1, 2):
            bits = registers.coils if function == 1 else registers.discrete
            if any(a not in bits for a in addresses):
                return None
            packed = bytearray((count + 7) // 8)
            for i, a in enumerate(addresses):
                if bits[a]:
                    packed[i // 8] |= 1 << (i % 8)
            return bytes(packed)
        return None


@contextmanager
def fake_modbus(units: dict[int, Registers], framing: str = "socket") -> Iterator[FakeModbus]:
    server = FakeModbus(units, framing).start()
    try:
        yield server
    finally:
        server.stop()


class FakeCenter:
    """The center's sequence rules in memory, with a switchable answer."""

    def __init__(self, public_key: Any = None) -> None:
        self.public_key = public_key
        self.max_seq = 0
        self.gaps: list[tuple[int, int]] = []
        self.records: dict[int, dict[str, Any]] = {}
        self.bodies: list[bytes] = []
        self.status = 200
        self.error: dict[str, Any] = {"code": "boom", "message": "it broke"}
        self.unreachable = False
        self.commands: list[dict[str, Any]] = []
        self.drop: set[int] = set()  # seqs lost on the way (to make gaps)
        self.closed = False

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        import json

        if self.unreachable:
            raise ConnectionRefusedError("connection refused")
        self.bodies.append(body)
        if self.public_key is not None:
            assert verify(self.public_key, body, headers["X-Signature"])
        if self.status != 200:
            return self.status, json.dumps({"error": self.error}).encode()
        batch = parse_body(body)
        received = []
        duplicates = 0
        for record in batch["records"]:
            seq = record["seq"]
            if seq in self.drop:
                self.drop.discard(seq)
                continue
            if is_held(seq, self.max_seq, self.gaps) or seq in received:
                duplicates += 1
                continue
            received.append(seq)
            self.records[seq] = record
        state = advance(self.max_seq, self.gaps, received)
        self.max_seq, self.gaps = state.max_seq, list(state.gaps)
        answer = {
            "acked_seq": self.max_seq,
            "duplicates": duplicates,
            "rejected": [],
            "gaps": [list(g) for g in self.gaps],
            "commands": self.commands,
        }
        return 200, json.dumps(answer).encode()

    def close(self) -> None:
        self.closed = True
