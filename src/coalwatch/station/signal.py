"""The sound-and-light warning at the outlet 声光预警: a point's output coil, switched.

The center commands every output in its upload answers (``signals``: on while an alarm
of the types the supervising unit chose is unacknowledged there). While the center is
unreachable the station switches an output on by itself when it sees one of those
conditions (``domain.signals.LOCAL_EVENTS``: door opened, parameters changed, mains
lost) and holds it on until the center has received that event and answered: from then
on the center's word stands (inside a maintenance permit the center raises no alarm
and so switches it off).

Every switch is a record: an event ``signal_on`` / ``signal_off`` for the center (who
or what switched it, and why, in its detail), the output's state in the outbox
(``signal:<point>``) and a log line. A failed write is logged once and tried again
every poll cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coalwatch.domain.signals import DEFAULT_TYPES, LOCAL_EVENTS
from coalwatch.station.bus import Bus, BusError
from coalwatch.station.config import PointSection, SignalOutput
from coalwatch.wire.batches import Signals

log = logging.getLogger("coalwatch.station.signal")

Record = dict[str, Any]
#: the alarm types the center last named (not under "signal:", where outputs are kept)
TYPES_KEY = "signal-types"


@dataclass
class Output:
    point: str
    spec: SignalOutput
    bus: Bus
    #: as last written since the station started (None: not written yet)
    on: bool | None = None
    #: as it was when the station stopped (the outbox's state)
    before: bool = False
    #: what the center last commanded, and the alarms it named
    center: bool | None = None
    alarms: tuple[int, ...] = ()
    #: switched on by the station itself: the seq of the event that did it, and why
    local_seq: int | None = None
    local_reason: str = ""
    failing: str | None = None

    @property
    def key(self) -> str:
        return f"signal:{self.point}"

    def wanted(self) -> tuple[bool, str]:
        """Whether it should sound now, and who or what says so."""
        if self.local_seq is not None:
            return True, self.local_reason
        if self.center is None:  # no word from the center yet: as it was
            return self.before, "as before the station started"
        if self.center:
            ids = ", ".join(str(a) for a in self.alarms)
            return True, f"center: unacknowledged alarm {ids}"
        return False, "center: no unacknowledged alarm of the chosen types"


class SignalOutputs:
    """The warning outputs of a station's points."""

    def __init__(
        self,
        points: Sequence[PointSection],
        buses: dict[str, Bus],
        saved: dict[str, Any],
    ) -> None:
        self.outputs = {
            p.code: Output(p.code, p.signal, buses[p.signal.bus])
            for p in points
            if p.signal is not None
        }
        for output in self.outputs.values():
            state = saved.get(output.key)
            if isinstance(state, dict):
                output.before = bool(state.get("on"))
                if state.get("local_seq") is not None:
                    output.local_seq = int(state["local_seq"])
                    output.local_reason = str(state.get("reason", ""))
        types = saved.get(TYPES_KEY)
        self.types = (
            frozenset(str(t) for t in types)
            if isinstance(types, list)
            else frozenset(t.value for t in DEFAULT_TYPES)
        )

    def observe(self, records: Sequence[Record], seqs: Sequence[int], center_away: bool) -> None:
        """Events just stored (with their seqs): with the center away, the station sounds
        the point's output itself for a condition of the chosen types."""
        if not center_away:
            return
        for record, seq in zip(records, seqs, strict=True):
            kind = LOCAL_EVENTS.get(str(record.get("event"))) if record["type"] == "event" else None
            if kind is None or kind.value not in self.types:
                continue
            point = record.get("point")
            for output in self.outputs.values() if point is None else [self.outputs.get(point)]:
                if output is not None and output.local_seq is None:
                    output.local_seq = seq
                    output.local_reason = (
                        f"station: {record['event']} at {record['ts']} while the center "
                        "is unreachable"
                    )

    def from_center(self, signals: Signals, acked_seq: int) -> dict[str, Any]:
        """The center's answer: its command stands for every output once it holds the
        event that made the station sound it. Returns the state to keep."""
        state: dict[str, Any] = {}
        types = sorted(signals.types)
        if frozenset(types) != self.types:
            self.types = frozenset(types)
            state[TYPES_KEY] = types
        by_point = {s.point: s for s in signals.points}
        for output in self.outputs.values():
            command = by_point.get(output.point)
            if command is None:
                continue
            output.center, output.alarms = command.on, tuple(command.alarms)
            if output.local_seq is not None and output.local_seq <= acked_seq:
                output.local_seq = None
        return state

    async def sync(self, clock: Callable[[], datetime]) -> tuple[list[Record], dict[str, Any]]:
        """Write every output whose wanted state differs from the last written; the
        records and state of the switches made."""
        records: list[Record] = []
        state: dict[str, Any] = {}
        for output in self.outputs.values():
            on, reason = output.wanted()
            if on == output.on:
                continue
            spec = output.spec
            try:
                await output.bus.write_coil(spec.unit, spec.coil, on != spec.invert)
            except BusError as exc:
                if output.failing != str(exc):
                    log.error("point %s: cannot switch the warning output: %s", output.point, exc)
                    output.failing = str(exc)
                continue
            output.failing = None
            first, output.on = output.on is None, on
            if first and on == output.before:
                continue  # written again as it was: no switch
            output.before = on
            now = clock()
            level = logging.WARNING if on else logging.INFO
            log.log(level, "point %s: warning output %s (%s)", output.point, _word(on), reason)
            records.append(
                {
                    "ts": now.isoformat(),
                    "type": "event",
                    "point": output.point,
                    "event": "signal_on" if on else "signal_off",
                    "detail": f"{reason}; coil {spec.coil} of unit {spec.unit} on bus {spec.bus}",
                }
            )
            state[output.key] = {
                "on": on,
                "at": now.isoformat(),
                "reason": reason,
                "local_seq": output.local_seq,
            }
        return records, state


def _word(on: bool) -> str:
    return "ON" if on else "off"
