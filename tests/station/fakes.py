"""A center in memory for the uploader's tests (the Modbus side uses the project's
simulators, ``coalwatch.sim.registers``).

``FakeCenter`` keeps seqs like the real center (``coalwatch.domain.sequences``)
and can answer with errors, so the uploader's rules are tested without a server.
"""

from __future__ import annotations

from typing import Any

from coalwatch.domain.sequences import advance, is_held
from coalwatch.wire.batches import parse_body
from coalwatch.wire.signing import verify


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
