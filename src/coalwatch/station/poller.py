"""Polling one instrument 计量仪表 and turning what it says into records.

A device poller reads every value its register map names in as few requests
as the map allows, decodes them, compares them with the device's last known
state, and returns the records that tell the change (totalizer samples,
trips, conveyor state, door / power / parameter / reset events, device
faults) together with the new state. It does not store anything itself: the
agent writes records and state to the outbox in one transaction and only then
adopts the new state, so a crash in between repeats a change instead of losing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from coalwatch.domain.limits import MAX_FLOW_TPH
from coalwatch.station.access import (
    Fingerprint,
    handshake_value,
    label,
    read_parameters,
    word_order_mismatch,
)
from coalwatch.station.bus import Bus, BusError, Group, Words, plan_groups
from coalwatch.station.registers import (
    Bit,
    RegisterMap,
    RegisterValue,
    Sentinel,
    bit_value,
    decode,
    to_tonnes,
)

log = logging.getLogger("coalwatch.station.poller")

Record = dict[str, Any]
Clock = Callable[[], datetime]
_FLOW = Decimal("0.001")


@dataclass(frozen=True)
class DeviceState:
    """What the station last knew of a device; kept in the outbox across restarts."""

    total_t: Decimal | None = None
    trip_counter: int | None = None
    conveyor_running: bool | None = None
    door_open: bool | None = None
    mains_on: bool | None = None
    #: raw parameter registers: their values together are the parameter fingerprint
    parameters: tuple[int, ...] | None = None
    #: why the device is in fault (device_fault sent, device_ok not yet)
    fault: str | None = None
    #: optional values out of range (invalid_data sent), dropped until they are back
    invalid: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.parameters is not None:
            data["parameters"] = list(self.parameters)
        data["invalid"] = list(self.invalid)
        return data

    @classmethod
    def from_json(cls, data: Any) -> DeviceState:
        if not isinstance(data, dict):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("total_t") is not None:
            known["total_t"] = Decimal(str(known["total_t"]))
        if known.get("parameters") is not None:
            known["parameters"] = tuple(int(v) for v in known["parameters"])
        if "invalid" in known:
            known["invalid"] = tuple(str(v) for v in known["invalid"] or ())
        return cls(**known)


@dataclass
class Outcome:
    """Records of one poll and the state that follows from them."""

    records: list[Record] = field(default_factory=list)
    state: DeviceState | None = None


class PollFailed(Exception):
    """The device answered nothing usable this time."""


def _spec_group(registers: RegisterMap, spec: RegisterValue | Bit) -> Group:
    offset = registers.offset(spec.address)
    if isinstance(spec, Bit):
        return Group(spec.table, offset, 1)
    return Group(spec.table, offset, spec.words)


class DevicePoller:
    """One device of one metering point 计量点, on one bus."""

    def __init__(
        self,
        point: str,
        index: int,
        unit: int,
        registers: RegisterMap,
        bus: Bus,
        fault_after: int,
        state: DeviceState | None = None,
    ) -> None:
        self.point = point
        self.index = index
        self.unit = unit
        self.map = registers
        self.bus = bus
        self.fault_after = fault_after
        self.state = state or DeviceState()
        self.failures = 0
        self._specs: dict[str, RegisterValue | Bit] = {}
        for name in (
            "totalizer",
            "flow",
            "error_code",
            "trip_counter",
            "trip_net",
            "conveyor_running",
            "door_open",
            "mains_power",
        ):
            spec = getattr(registers, name)
            if spec is not None:
                self._specs[name] = spec
        for i, parameter in enumerate(registers.parameters):
            self._specs[f"parameter{i}"] = parameter
        if registers.word_order is not None:
            spec = registers.word_order
            self._specs["word_order"] = RegisterValue(table=spec.table, address=spec.address)
        #: when the handshake parameters were last read (None: not yet)
        self._handshake_at: datetime | None = None
        names = list(self._specs)
        self._groups, where = plan_groups([_spec_group(registers, s) for s in self._specs.values()])
        self._where = dict(zip(names, where, strict=True))
        # counter and net weight in separate requests: a trip may land between them
        self._recheck_counter = (
            "trip_counter" in self._where
            and "trip_net" in self._where
            and self._where["trip_counter"][0] != self._where["trip_net"][0]
        )

    @property
    def key(self) -> str:
        """The device's key in the outbox's state."""
        return f"device:{self.point}:{self.index}"

    def describe(self) -> str:
        return (
            f"point {self.point} device {self.index} (bus {self.bus.describe()}, unit {self.unit})"
        )

    @property
    def requests(self) -> int:
        return len(self._groups)

    async def poll(self, clock: Clock) -> Outcome:
        """Read the device once; never raises for what a field device can do wrong.

        ``clock`` dates what was read: the agent gives every device of a cycle the
        cycle's instant, so that a point's totalizer and its conveyor state (two
        devices) describe the same moment."""
        try:
            words = await self.bus.read(self.unit, self._groups)
            if self._recheck_counter:
                group = self._where["trip_counter"][0]
                again = await self.bus.read(self.unit, [self._groups[group]])
                if again[0] != words[group]:
                    raise PollFailed("the trip counter moved while the trip was read")
            ts = clock()
            values = self._decode(words)
            values["handshake"] = await self._handshake(ts)
        except (BusError, PollFailed, Sentinel, ValueError) as exc:
            return self._failed(str(exc) or type(exc).__name__, clock())
        return self._succeeded(values, ts)

    async def _handshake(self, ts: datetime) -> Fingerprint | None:
        """The handshake parameters when due (None: not read this poll)."""
        access = self.map.parameter_access
        if access is None:
            return None
        if self._handshake_at is not None and (ts - self._handshake_at).total_seconds() < (
            access.every_s
        ):
            return None
        self._handshake_at = ts
        try:
            return await read_parameters(self.bus, self.unit, self.map)
        except BusError as exc:
            # another client using the handshake, or a lost answer: no change is inferred
            log.warning("%s: parameters not read this time: %s", self.describe(), exc)
            return None

    def adopt(self, state: DeviceState | None) -> None:
        """Take the state of a poll whose records are now in the outbox."""
        if state is not None:
            self.state = state

    # -- decoding --------------------------------------------------------------------------

    def _raw(self, words: list[Words], name: str) -> Words:
        group, offset = self._where[name]
        spec = self._specs[name]
        count = 1 if isinstance(spec, Bit) else spec.words
        return words[group][offset : offset + count]

    def _decode(self, words: list[Words]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in self._specs.items():
            raw = self._raw(words, name)
            if isinstance(spec, Bit):
                values[name] = bit_value(raw[0], spec)
            elif name.startswith("parameter"):
                values[name] = tuple(int(w) for w in raw)
            elif name == "word_order":
                values[name] = int(raw[0])
            elif name in ("flow", "error_code"):
                try:
                    values[name] = decode([int(w) for w in raw], spec)
                except Sentinel as exc:
                    # a flow of "off" is no flow figure; an error code of "invalid" is a fault
                    values[name] = None if name == "flow" else Decimal(exc.raw)
            else:
                try:
                    values[name] = decode([int(w) for w in raw], spec)
                except Sentinel as exc:
                    raise PollFailed(f"{name} reads sentinel code {exc.raw}") from None
                if values[name] < 0:
                    raise PollFailed(f"{name} reads {values[name]}, below zero")
        return values

    # -- records ---------------------------------------------------------------------------

    def _event(self, ts: datetime, event: str, detail: str | None = None) -> Record:
        record: Record = {"ts": ts.isoformat(), "type": "event", "point": self.point}
        record["event"] = event
        if detail:
            record["detail"] = detail[:2000]
        return record

    def _failed(self, reason: str, ts: datetime) -> Outcome:
        self.failures += 1
        if self.failures == 1:
            log.warning("%s: poll failed: %s", self.describe(), reason)
        if self.failures < self.fault_after or self.state.fault is not None:
            return Outcome()
        detail = f"{self.failures} polls failed: {reason}"
        log.warning("%s: device fault (%s)", self.describe(), detail)
        state = replace(self.state, fault=detail)
        return Outcome([self._event(ts, "device_fault", detail)], state)

    def _succeeded(self, values: dict[str, Any], ts: datetime) -> Outcome:
        if self.failures:
            log.info("%s: answers again after %d failed polls", self.describe(), self.failures)
        self.failures = 0
        records: list[Record] = []
        state = self.state
        mismatch = (
            word_order_mismatch(values["word_order"], self.map)
            if "word_order" in (values)
            else None
        )
        if mismatch is not None:
            # nothing a 32-bit value says can be trusted: no sample, one device_fault
            if state.fault != mismatch:
                log.error("%s: %s", self.describe(), mismatch)
                records.append(self._event(ts, "device_fault", mismatch))
                state = replace(state, fault=mismatch)
            return Outcome(records, state if state != self.state else None)
        error = values.get("error_code")
        if error is not None and error != 0:
            if state.fault is None:
                detail = f"instrument error code {error}"
                log.warning("%s: device fault (%s)", self.describe(), detail)
                records.append(self._event(ts, "device_fault", detail))
                state = replace(state, fault=detail)
        elif state.fault is not None:
            log.info("%s: device ok again (was: %s)", self.describe(), state.fault)
            records.append(self._event(ts, "device_ok", f"recovered from: {state.fault}"))
            state = replace(state, fault=None)

        state = self._bits(values, ts, state, records)
        state = self._parameters(values, ts, state, records)
        if "totalizer" in values:
            state = self._totalizer(values, ts, state, records)
        if "trip_counter" in values and "trip_net" in values:
            state = self._trips(values, ts, state, records)
        return Outcome(records, state if state != self.state else None)

    def _bits(
        self, values: dict[str, Any], ts: datetime, state: DeviceState, records: list[Record]
    ) -> DeviceState:
        running = values.get("conveyor_running")
        if running is not None and running != state.conveyor_running:
            records.append(
                {"ts": ts.isoformat(), "type": "conveyor", "point": self.point, "running": running}
            )
            state = replace(state, conveyor_running=running)
        door = values.get("door_open")
        if door is not None and door != state.door_open:
            # a closed door at the first look is the normal state: nothing to tell
            if door or state.door_open is not None:
                records.append(self._event(ts, "enclosure_open" if door else "enclosure_closed"))
            state = replace(state, door_open=door)
        mains = values.get("mains_power")
        if mains is not None and mains != state.mains_on:
            if not mains or state.mains_on is not None:
                records.append(self._event(ts, "power_on" if mains else "power_off"))
            state = replace(state, mains_on=mains)
        return state

    def _parameters(
        self, values: dict[str, Any], ts: datetime, state: DeviceState, records: list[Record]
    ) -> DeviceState:
        items: Fingerprint = [
            (str(spec.address), values[f"parameter{i}"])
            for i, spec in enumerate(self.map.parameters)
        ]
        access = self.map.parameter_access
        if access is not None:
            handshake: Fingerprint | None = values.get("handshake")
            if handshake is None:
                # not read this poll: the handshake part stays as last known
                known = sum(len(w) for _, w in items)
                if state.parameters is None or len(state.parameters) != known + 2 * len(
                    access.parameters
                ):
                    return state
                tail = state.parameters[known:]
                handshake = [
                    (label(p), tail[2 * i : 2 * i + 2]) for i, p in enumerate(access.parameters)
                ]
            items += handshake
        if not items:
            return state
        current = tuple(w for _, words in items for w in words)
        if state.parameters is not None and len(current) != len(state.parameters):
            # the map names other parameters than the fingerprint kept (a new map): the
            # readings are a new baseline, not a change at the instrument
            log.info("%s: parameter fingerprint taken anew (the map changed)", self.describe())
        elif state.parameters is not None and current != state.parameters:
            changes = []
            position = 0
            for name, new in items:
                old = state.parameters[position : position + len(new)]
                if old != new:
                    changes.append(f"{name}: {self._show(name, old)} → {self._show(name, new)}")
                position += len(new)
            records.append(
                self._event(ts, "parameter_change", "parameters changed: " + ", ".join(changes))
            )
        if current != state.parameters:
            state = replace(state, parameters=current)
        return state

    def _show(self, name: str, words: tuple[int, ...]) -> str:
        """A fingerprint item as the manual shows it: a handshake parameter's value, or
        the raw words of a parameter register."""
        access = self.map.parameter_access
        for parameter in access.parameters if access is not None else ():
            if label(parameter) == name and len(words) == 2:
                return str(handshake_value(words, parameter))
        return _words(words)

    def _totalizer(
        self, values: dict[str, Any], ts: datetime, state: DeviceState, records: list[Record]
    ) -> DeviceState:
        spec = self.map.totalizer
        assert spec is not None
        total = to_tonnes(values["totalizer"], spec.unit)
        last = state.total_t
        if last is not None and total < last:
            modulus = to_tonnes(spec.modulus, spec.unit) if spec.modulus is not None else None
            if modulus is not None and 2 * (last - total) > modulus:
                log.info("%s: totalizer wrapped from %s t to %s t", self.describe(), last, total)
            else:
                # a reset 清零 changes what the scale reports: the center must see it as such
                records.append(
                    self._event(
                        ts, "parameter_change", f"totalizer reset from {last} t to {total} t"
                    )
                )
        record: Record = {
            "ts": ts.isoformat(),
            "type": "totalizer",
            "point": self.point,
            "total_t": total,
        }
        flow = values.get("flow")
        if isinstance(flow, Decimal) and flow > MAX_FLOW_TPH:
            # an optional value never sinks the reading: dropped, told once
            state = self._invalid(
                state, "flow", f"flow {flow} t/h above {MAX_FLOW_TPH}", ts, records
            )
        else:
            state = self._valid(state, "flow")
            if isinstance(flow, Decimal) and flow >= 0:
                record["flow_tph"] = flow.quantize(_FLOW)
        records.append(record)
        return replace(state, total_t=total)

    def _invalid(
        self, state: DeviceState, name: str, why: str, ts: datetime, records: list[Record]
    ) -> DeviceState:
        """An optional value out of range: left out of the record; the first time (until
        it is in range again) a warning and an ``invalid_data`` event say so."""
        if name in state.invalid:
            return state
        detail = f"{why}: left out of the readings until it is in range again"
        log.warning("%s: %s", self.describe(), detail)
        records.append(self._event(ts, "invalid_data", detail))
        return replace(state, invalid=(*state.invalid, name))

    def _valid(self, state: DeviceState, name: str) -> DeviceState:
        if name not in state.invalid:
            return state
        log.info("%s: %s in range again", self.describe(), name)
        return replace(state, invalid=tuple(n for n in state.invalid if n != name))

    def _trips(
        self, values: dict[str, Any], ts: datetime, state: DeviceState, records: list[Record]
    ) -> DeviceState:
        spec = self.map.trip_counter
        net_spec = self.map.trip_net
        assert spec is not None and net_spec is not None
        counter = int(values["trip_counter"])
        last = state.trip_counter
        if last is None:
            return replace(state, trip_counter=counter)
        if counter == last:
            return state
        advanced = (counter - last) % spec.modulus if spec.modulus else counter - last
        if advanced <= 0 or (spec.modulus and 2 * advanced > spec.modulus):
            records.append(
                self._event(ts, "parameter_change", f"trip counter reset from {last} to {counter}")
            )
            return replace(state, trip_counter=counter)
        net = to_tonnes(values["trip_net"], net_spec.unit)
        record: Record = {"ts": ts.isoformat(), "type": "trip", "point": self.point, "net_t": net}
        if advanced > 1:
            # only the last trip's weight is readable: the others are counted, not weighed
            record["missed"] = advanced - 1
            log.warning(
                "%s: trip counter advanced by %d between polls; %d trips not weighed",
                self.describe(),
                advanced,
                advanced - 1,
            )
        records.append(record)
        return replace(state, trip_counter=counter)


def _words(words: tuple[int, ...]) -> str:
    return str(words[0]) if len(words) == 1 else "/".join(str(w) for w in words)
