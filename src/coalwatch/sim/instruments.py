"""The simulated instruments' state: what they measure over simulated time, and faults.

State advances lazily: whenever registers are read or state is asked for, the
instrument runs its clock from the last time to now (``time_factor`` simulated
seconds per real second). Production is a pure function of simulated time (see
``profile``), so it does not depend on how often anyone reads. Every method is
thread safe: the Modbus servers read from the event loop thread, tests and the
CLI inject faults from theirs.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from coalwatch.sim.access import Handshake, swapped_words
from coalwatch.sim.image import Image, Readings, modulus_kg, render
from coalwatch.sim.profile import RateNoise, Schedule, pieces
from coalwatch.station.registers import RegisterMap, Table, ValueType

Clock = Callable[[], float]
_MILLI = Decimal("0.001")
#: the I/O module's relay output wired to the outlet's beacon (a coil, protocol address)
BEACON_COIL = 0


class UnknownFault(ValueError):
    """The instrument has no such fault (the message lists the ones it has)."""


def _initial_parameters(registers: RegisterMap, seed: int) -> list[Decimal]:
    # values every parameter type holds exactly (uint16 to float32)
    rng = random.Random(seed ^ 0x5EED)
    return [Decimal(rng.randint(100, 9999)) for _ in registers.parameters]


def _bump(value: Decimal, spec_type: ValueType) -> Decimal:
    if spec_type is ValueType.UINT16:
        return (value + 1) % 65536
    return value + 1


class Instrument:
    """A clock that runs ``time_factor`` times real time and stops when frozen."""

    def __init__(
        self,
        registers: RegisterMap,
        schedule: Schedule,
        clock_start_s: float,
        time_factor: float,
        seed: int,
        clock: Clock,
    ) -> None:
        if time_factor <= 0:
            raise ValueError("time_factor must be positive")
        self.map = registers
        self.schedule = schedule
        self.time_factor = time_factor
        self._clock = clock
        self._lock = threading.Lock()
        self._clock_start_s = clock_start_s
        self._sim_s = 0.0
        self._last_real = clock()
        self._frozen = False
        self.error_code = 0
        self.parameters = _initial_parameters(registers, seed)
        self.handshake = Handshake(registers, seed)
        #: the device's word order differs from the map's (its format word says so)
        self.words_swapped = False

    # -- the clock ---------------------------------------------------------------------

    def _advance(self) -> None:
        """Run simulated time up to now (lock held)."""
        now = self._clock()
        if not self._frozen and now > self._last_real:
            end = self._sim_s + (now - self._last_real) * self.time_factor
            self._run(self._sim_s, end)
            self._sim_s = end
        self._last_real = now

    def _run(self, t0: float, t1: float) -> None:
        """Produce what happens in simulated [t0, t1) (lock held)."""

    def clock_s(self, t: float | None = None) -> float:
        """Seconds since a midnight at simulated time ``t`` (default: now, as last run)."""
        return self._clock_start_s + (self._sim_s if t is None else t)

    def freeze(self) -> None:
        with self._lock:
            self._advance()
            self._frozen = True

    def unfreeze(self) -> None:
        with self._lock:
            self._advance()
            self._frozen = False

    # -- registers and state ------------------------------------------------------------

    def image(self) -> Image:
        """The registers as they are now (in the device's word order)."""
        with self._lock:
            self._advance()
            readings = self._readings()
            registers = swapped_words(self.map) if self.words_swapped else self.map
            return render(registers, self._with_access(readings))

    def write(self, address: int, words: list[int]) -> bool:
        """A client writes holding registers: only the handshake's request is writable."""
        with self._lock:
            return self.handshake.write(address, words)

    def _with_access(self, readings: Readings) -> Readings:
        spec = self.map.word_order
        code = None
        if spec is not None:
            order = self.map.totalizer.order if self.map.totalizer is not None else "ABCD"
            msw_first = order in ("ABCD", "BADC")
            if self.words_swapped:
                msw_first = not msw_first
            wanted = ("ABCD", "BADC") if msw_first else ("CDAB", "DCBA")
            code = next((c for o, c in spec.orders.items() if o in wanted), None)
        return replace(readings, word_order_code=code, handshake=self.handshake.area())

    def state(self) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return self._state()

    def _readings(self) -> Readings:
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        return {
            "error_code": self.error_code,
            "parameters": list(self.parameters),
            "handshake_parameters": {
                name: self.handshake.values[key] for name, key in self.handshake.names.items()
            },
            "words_swapped": self.words_swapped,
            "writes": list(self.handshake.writes),
            "sim_s": self._sim_s,
            "frozen": self._frozen,
        }

    # -- faults -------------------------------------------------------------------------

    def faults(self) -> tuple[str, ...]:
        return ("error", "parameter_change", "word_order_switch")

    def inject(self, fault: str, **params: Any) -> None:
        """Apply a fault now; production up to now is counted under the old conditions."""
        if fault not in self.faults():
            raise UnknownFault(
                f"no fault {fault!r}; this instrument has: {', '.join(self.faults())}"
            )
        with self._lock:
            self._advance()
            self._apply(fault, params)

    def _apply(self, fault: str, params: dict[str, Any]) -> None:
        if fault == "error":
            self.error_code = int(params.get("code", 1))
        elif fault == "word_order_switch":
            # someone set the device's format word to the other word order
            self.words_swapped = not self.words_swapped
        elif fault == "parameter_change" and ("name" in params or not self.map.parameters):
            # a calibration at the keypad: a parameter behind the handshake
            name = str(params.get("name") or next(iter(self.handshake.names), ""))
            key = self.handshake.names.get(name)
            old = self.handshake.values[key] if key is not None else Decimal(0)
            value = params.get("value")
            self.handshake.set(name, old + 1 if value is None else Decimal(value))
        elif fault == "parameter_change":
            index = int(params.get("index", 0))
            value = params.get("value")
            spec = self.map.parameters[index]
            old = self.parameters[index]
            self.parameters[index] = _bump(old, spec.type) if value is None else Decimal(value)


class BeltPoint(Instrument):
    """A belt-scale integrator 皮带秤 and the point's I/O (conveyor, door switch, power).

    The totalizer is a whole number of kilograms (``total_kg``): what the display
    shows, wrapped at the map's modulus and zeroed by a reset. ``produced_kg`` is
    everything weighed since start (never wraps or resets): the truth to compare
    the station's production with.
    """

    def __init__(
        self,
        registers: RegisterMap,
        io_map: RegisterMap | None,
        *,
        rate_tph: float,
        start_kg: int,
        noise: RateNoise,
        schedule: Schedule,
        clock_start_s: float,
        time_factor: float,
        seed: int,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(registers, schedule, clock_start_s, time_factor, seed, clock)
        if registers.totalizer is None:
            raise ValueError("a belt integrator's map needs a totalizer")
        if rate_tph < 0:
            raise ValueError("rate_tph must not be negative")
        self.io_map = io_map
        self.rate_tph = rate_tph
        self.noise = noise
        self.modulus_kg = modulus_kg(registers)
        if start_kg < 0 or (self.modulus_kg is not None and start_kg >= self.modulus_kg):
            raise ValueError(f"start total {start_kg} kg is outside the totalizer's range")
        self.total_kg = start_kg
        self.produced_kg = 0
        self._carry_kg = 0.0  # the fraction of a kilogram the integrator has not shown yet
        self.held_stopped = False  # conveyor stopped by hand (overrides the schedule)
        self.count_while_stopped = False
        self.loaded = True
        self.power = True
        self.door_open = False
        #: the sound-and-light warning at the outlet (声光预警): the I/O module's output
        #: coil BEACON_COIL, switched by the station
        self.beacon = False

    def set_output(self, address: int, on: bool) -> bool:
        """The station writes an output of the I/O module; False: not an output."""
        if address != BEACON_COIL or self.io_map is None:
            return False
        with self._lock:
            self.beacon = on
        return True

    def _running(self, clock_s: float) -> bool:
        return self.power and not self.held_stopped and self.schedule.running(clock_s)

    def _counting(self, clock_s: float) -> bool:
        return self.count_while_stopped or (self.loaded and self._running(clock_s))

    def _rate(self, t: float) -> float:
        """The flow in t/h at simulated time ``t``."""
        if not self._counting(self.clock_s(t)):
            return 0.0
        return self.rate_tph * self.noise.factor(t)

    def _run(self, t0: float, t1: float) -> None:
        def schedule_change(t: float) -> float:
            return self.schedule.next_change(self.clock_s(t)) - self._clock_start_s

        for a, b in pieces(t0, t1, self.noise.next_change, schedule_change):
            # t/h over seconds → kg: × 1000 / 3600
            self._carry_kg += self._rate((a + b) / 2) * (b - a) / 3.6
        whole = int(self._carry_kg)
        self._carry_kg -= whole
        self._add(whole)

    def _add(self, kg: int) -> None:
        self.produced_kg += kg
        self.total_kg += kg
        if self.modulus_kg is not None:
            self.total_kg %= self.modulus_kg

    def _flow_now(self) -> Decimal:
        """The flow the integrator shows: the rate as a station on the real clock sees the
        totalizer advance (× ``time_factor``), so that total and rate agree for it."""
        return Decimal(repr(self._rate(self._sim_s) * self.time_factor)).quantize(_MILLI)

    def _readings(self) -> Readings:
        running = self._running(self.clock_s())
        return Readings(
            total_kg=self.total_kg,
            flow_tph=self._flow_now(),
            error_code=self.error_code,
            parameters=tuple(self.parameters),
            conveyor_running=running,
            door_open=self.door_open,
            mains_power=self.power,
        )

    def io_image(self) -> Image:
        """The I/O module's registers (conveyor running, door switch, mains power)."""
        if self.io_map is None:
            raise ValueError("this belt point has no I/O instrument")
        with self._lock:
            self._advance()
            image = render(self.io_map, self._readings())
            image.bits[Table.COIL][BEACON_COIL] = self.beacon
            return image

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "total_kg": self.total_kg,
            "total_t": Decimal(self.total_kg).scaleb(-3),
            "produced_kg": self.produced_kg,
            "running": self._running(self.clock_s()),
            "counting": self._counting(self.clock_s()),
            "door_open": self.door_open,
            "beacon": self.beacon,
            "power": self.power,
            "loaded": self.loaded,
            "count_while_stopped": self.count_while_stopped,
            "flow_tph": self._flow_now(),
            "clock_s": self.clock_s() % 86_400,
        }

    def faults(self) -> tuple[str, ...]:
        return (
            *super().faults(),
            "door_open",
            "door_close",
            "conveyor_stop",
            "conveyor_start",
            "count_while_stopped",
            "reset_totalizer",
            "restart",
            "belt_empty",
            "belt_load",
            "power_off",
            "power_on",
        )

    def _apply(self, fault: str, params: dict[str, Any]) -> None:
        match fault:
            case "door_open" | "door_close":
                self.door_open = fault == "door_open"
            case "conveyor_stop":
                self.held_stopped = True
                self.count_while_stopped = False
            case "conveyor_start":
                self.held_stopped = False
                self.count_while_stopped = False
            case "count_while_stopped":
                self.held_stopped = True
                self.count_while_stopped = True
            case "reset_totalizer":
                self.total_kg = 0
                self._carry_kg = 0.0
            case "restart":
                # the integrator comes back showing another total (a swap, a restore,
                # a preset): ``total_t`` in tonnes, whole kilograms
                kg = Decimal(str(params.get("total_t", 0))) * 1000
                if kg != kg.to_integral_value() or kg < 0:
                    raise ValueError(f"total_t {params.get('total_t')} is not whole kilograms")
                self.total_kg = int(kg) % self.modulus_kg if self.modulus_kg else int(kg)
                self._carry_kg = 0.0
            case "belt_empty" | "belt_load":
                self.loaded = fault == "belt_load"
            case "power_off" | "power_on":
                self.power = fault == "power_on"
            case _:
                super()._apply(fault, params)


class TripScale(Instrument):
    """A trip weighing indicator (skip 箕斗, mine car, truck scale): one net weight per
    trip, a trip counter, the last trip's net weight."""

    def __init__(
        self,
        registers: RegisterMap,
        *,
        interval_s: float,
        min_kg: int,
        max_kg: int,
        start_count: int,
        schedule: Schedule,
        clock_start_s: float,
        time_factor: float,
        seed: int,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(registers, schedule, clock_start_s, time_factor, seed, clock)
        if registers.trip_counter is None or registers.trip_net is None:
            raise ValueError("a trip scale's map needs a trip_counter and a trip_net")
        if interval_s <= 0 or not 0 < min_kg <= max_kg:
            raise ValueError("need interval_s > 0 and 0 < min_kg <= max_kg")
        self.interval_s = interval_s
        self.min_kg = min_kg
        self.max_kg = max_kg
        self.counter_modulus = registers.trip_counter.modulus
        self.start_count = start_count
        self.trips_kg: list[int] = []
        self._rng = random.Random(seed)
        self._loading_s = 0.0  # scheduled time since the last trip

    @property
    def trip_count(self) -> int:
        """The counter as the indicator shows it."""
        count = self.start_count + len(self.trips_kg)
        return count % self.counter_modulus if self.counter_modulus else count

    def _trip(self) -> None:
        self.trips_kg.append(self._rng.randint(self.min_kg, self.max_kg))

    def _run(self, t0: float, t1: float) -> None:
        def schedule_change(t: float) -> float:
            return self.schedule.next_change(self.clock_s(t)) - self._clock_start_s

        for a, b in pieces(t0, t1, schedule_change):
            if self.schedule.running(self.clock_s((a + b) / 2)):
                self._loading_s += b - a
        while self._loading_s >= self.interval_s:
            self._loading_s -= self.interval_s
            self._trip()

    def _readings(self) -> Readings:
        return Readings(
            trip_count=self.trip_count,
            trip_net_kg=self.trips_kg[-1] if self.trips_kg else 0,
            error_code=self.error_code,
            parameters=tuple(self.parameters),
        )

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "trip_count": self.trip_count,
            "trips": len(self.trips_kg),
            "trips_kg": list(self.trips_kg),
            "last_net_kg": self.trips_kg[-1] if self.trips_kg else 0,
            "produced_kg": sum(self.trips_kg),
        }

    def faults(self) -> tuple[str, ...]:
        return (*super().faults(), "trip", "trip_burst")

    def _apply(self, fault: str, params: dict[str, Any]) -> None:
        if fault == "trip":
            self._trip()
        elif fault == "trip_burst":
            # two trips between two polls: the counter jumps by 2, one weight is unseen
            self._trip()
            self._trip()
        else:
            super()._apply(fault, params)
