"""Sequence numbers of a station's records: duplicates, gaps, acknowledgement.

Each station numbers its records 1, 2, 3 ... for its whole life. The center
holds every seq up to ``max_seq`` except the gaps (inclusive runs it has not
received); ``acked_seq`` is ``max_seq``: below it the center holds every
record or knows it is missing and says so in the gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Gap = tuple[int, int]


def is_held(seq: int, max_seq: int, gaps: Sequence[Gap]) -> bool:
    """Whether a seq was received already (a re-sent record changes nothing)."""
    return seq <= max_seq and not any(a <= seq <= b for a, b in gaps)


@dataclass(frozen=True, slots=True)
class SequenceState:
    max_seq: int
    gaps: tuple[Gap, ...]
    #: gaps that this batch opened (for the sequence_gap alarm)
    opened: tuple[Gap, ...]


def _subtract(gap: Gap, received: Sequence[int]) -> list[Gap]:
    """A gap less the seqs received (``received`` sorted)."""
    pieces = []
    start = gap[0]
    for seq in received:
        if seq < start or seq > gap[1]:
            continue
        if seq > start:
            pieces.append((start, seq - 1))
        start = seq + 1
    if start <= gap[1]:
        pieces.append((start, gap[1]))
    return pieces


def advance(max_seq: int, gaps: Sequence[Gap], received: Iterable[int]) -> SequenceState:
    """The state after receiving new seqs (none of them held before)."""
    new = sorted(set(received))
    if not new:
        return SequenceState(max_seq, tuple(gaps), ())
    remaining: list[Gap] = []
    for gap in gaps:
        remaining.extend(_subtract(gap, new))
    beyond = [s for s in new if s > max_seq]
    opened: list[Gap] = []
    if beyond:
        top = beyond[-1]
        missing = _subtract((max_seq + 1, top), beyond)
        opened = missing
        remaining.extend(missing)
        max_seq = top
    return SequenceState(max_seq, tuple(sorted(remaining)), tuple(opened))
