"""A center in memory for the uploader's tests (the Modbus side uses the project's
simulators, ``coalwatch.sim.registers``).

``FakeCenter`` answers as contract.md says the center does — ``acked_seq`` the highest
seq below which every seq is held or listed in ``gaps`` — worked out here from the set
of seqs it holds, not with the program's own rules (``coalwatch.domain.sequences``), and
it can answer with errors, lose records on the way and send commands: the faults a real
center (tests/station/conftest.py ``real_center``) cannot be asked for.
"""

from __future__ import annotations

from typing import Any

from coalwatch.wire.batches import parse_body
from coalwatch.wire.signing import verify


class FakeCenter:
    """A center's answers in memory, with a switchable error."""

    def __init__(self, public_key: Any = None) -> None:
        self.public_key = public_key
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
        duplicates = 0
        for record in batch["records"]:
            seq = record["seq"]
            if seq in self.drop:
                self.drop.discard(seq)
                continue
            if seq in self.records:
                duplicates += 1
                continue
            self.records[seq] = record
        answer = {
            "acked_seq": self.max_seq,
            "duplicates": duplicates,
            "rejected": [],
            "gaps": [list(g) for g in self.gaps],
            "commands": self.commands,
        }
        return 200, json.dumps(answer).encode()

    @property
    def max_seq(self) -> int:
        """Every seq up to the highest received is held or listed as missing."""
        return max(self.records, default=0)

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """The runs of seqs below the highest received that never arrived."""
        runs: list[tuple[int, int]] = []
        for seq in range(1, self.max_seq):
            if seq in self.records:
                continue
            if runs and runs[-1][1] == seq - 1:
                runs[-1] = (runs[-1][0], seq)
            else:
                runs.append((seq, seq))
        return runs

    def close(self) -> None:
        self.closed = True
