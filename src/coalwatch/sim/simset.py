"""A set of simulated instruments, each a real Modbus TCP server on its own port.

Every belt point is two instruments: the integrator (key ``B1``, its map) and the
point's I/O module (key ``B1-IO``, map ``station_io``: conveyor running, door
switch, mains power), so either link can drop alone. A trip point is one
instrument (key ``K1``, map ``trip_indicator``). All servers share one asyncio
loop in a background thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

from coalwatch.sim.instruments import (
    BEACON_COIL,
    BeltPoint,
    Clock,
    Instrument,
    TripScale,
    UnknownFault,
)
from coalwatch.sim.profile import RateNoise, Schedule
from coalwatch.sim.server import InstrumentServer, serve_loop
from coalwatch.station.config import load_map

IO_SUFFIX = "-IO"
IO_MAP = "station_io"
LINK_FAULTS = ("link_drop", "link_restore")
#: what an I/O key accepts besides its link: the inputs it shows
IO_FAULTS = ("door_open", "door_close", "conveyor_stop", "conveyor_start", "power_off", "power_on")
_START_TIMEOUT_S = 10.0


def _clock_start_s(clock_start_h: float | None, timezone: str) -> float:
    if clock_start_h is not None:
        return clock_start_h * 3600
    now = datetime.now(ZoneInfo(timezone))
    return now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6


@dataclass(frozen=True)
class BeltSpec:
    """A belt-scale point. ``start_t`` is the totalizer at start (whole kilograms);
    near the map's modulus it forces a rollover soon (bw500 wraps at 4,294,967.296 t).
    With ``intecont`` the total is a float32 of kilograms, exact only below 2^24 kg
    (16,777.216 t): keep ``start_t`` small there.

    ``clock_start_h`` is the simulated time of day at start (None: the real time of
    day in ``timezone``). The default, 01:00, is mid-shift so the belt runs at once;
    the first stop between shifts (07:30) comes 6.5 simulated hours later, i.e. after
    6.5 h / ``time_factor`` of real time. ``Schedule(stop_min=0)`` never stops."""

    code: str
    map: str = "bw500"
    rate_tph: float | Decimal = 600
    start_t: Decimal | int = Decimal(0)
    time_factor: float = 1.0
    seed: int = 0
    #: relative standard deviation of the rate, changing every noise_period_s
    noise: float = 0.1
    noise_period_s: float = 60.0
    schedule: Schedule = field(default_factory=Schedule)
    clock_start_h: float | None = 1.0
    timezone: str = "Asia/Shanghai"
    unit: int = 1
    #: a serial device to answer Modbus RTU on (one end of a pty pair) instead of TCP
    serial: str | None = None

    @property
    def start_kg(self) -> int:
        kg = Decimal(self.start_t) * 1000
        if kg != kg.to_integral_value():
            raise ValueError(f"belt {self.code}: start_t {self.start_t} is not whole kilograms")
        return int(kg)


@dataclass(frozen=True)
class TripSpec:
    """A trip point (skip, mine car, tyred vehicle, truck): a trip of ``min_kg``..``max_kg``
    net every ``interval_s`` simulated seconds of scheduled production."""

    code: str
    interval_s: float = 60.0
    map: str = "trip_indicator"
    kind: Literal["skip", "mine_car", "tyred_vehicle", "truck"] = "skip"
    min_kg: int = 8000
    max_kg: int = 12000
    start_count: int = 0
    time_factor: float = 1.0
    seed: int = 0
    schedule: Schedule = field(default_factory=Schedule)
    clock_start_h: float | None = 1.0
    timezone: str = "Asia/Shanghai"
    unit: int = 1


def _toml(value: str) -> str:
    # a JSON string is a valid TOML basic string
    return json.dumps(value, ensure_ascii=False)


class SimSet:
    """Simulated instruments for one station; ``start`` serves them, ``stop`` ends all."""

    def __init__(
        self,
        belts: Sequence[BeltSpec] = (),
        trips: Sequence[TripSpec] = (),
        io: bool = True,
        host: str = "127.0.0.1",
        base_port: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.host = host
        self.belts: dict[str, BeltPoint] = {}
        self.trips: dict[str, TripScale] = {}
        self._belt_specs = {b.code: b for b in belts}
        self._trip_specs = {t.code: t for t in trips}
        self._servers: dict[str, InstrumentServer] = {}
        self._owner: dict[str, Instrument] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        codes = [b.code for b in belts] + [t.code for t in trips]
        if len(set(codes)) != len(codes):
            raise ValueError("instrument codes must be unique")
        here = Path.cwd()
        for spec in belts:
            point = BeltPoint(
                load_map(spec.map, here),
                load_map(IO_MAP, here) if io else None,
                rate_tph=float(spec.rate_tph),
                start_kg=spec.start_kg,
                noise=RateNoise(spec.seed, spec.noise, spec.noise_period_s),
                schedule=spec.schedule,
                clock_start_s=_clock_start_s(spec.clock_start_h, spec.timezone),
                time_factor=spec.time_factor,
                seed=spec.seed,
                clock=clock,
            )
            self.belts[spec.code] = point
            self._add(spec.code, point, point.image, spec.unit, point.write, spec.serial)
            if io:
                self._add(
                    spec.code + IO_SUFFIX,
                    point,
                    point.io_image,
                    spec.unit,
                    set_coil=point.set_output,
                )
        for trip in trips:
            scale = TripScale(
                load_map(trip.map, here),
                interval_s=trip.interval_s,
                min_kg=trip.min_kg,
                max_kg=trip.max_kg,
                start_count=trip.start_count,
                schedule=trip.schedule,
                clock_start_s=_clock_start_s(trip.clock_start_h, trip.timezone),
                time_factor=trip.time_factor,
                seed=trip.seed,
                clock=clock,
            )
            self.trips[trip.code] = scale
            self._add(trip.code, scale, scale.image, trip.unit, scale.write)
        if base_port:
            for i, server in enumerate(self._servers.values()):
                server.port = base_port + i

    def _add(
        self,
        key: str,
        owner: Instrument,
        render: Any,
        unit: int,
        write: Any = None,
        serial: str | None = None,
        set_coil: Any = None,
    ) -> None:
        if key in self._servers:
            raise ValueError(f"instrument key {key!r} is used twice")
        self._servers[key] = InstrumentServer(
            key, render, self.host, 0, unit, write, serial, set_coil
        )
        self._owner[key] = owner

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread and every server; returns once all listen."""
        if self._thread is not None:
            raise RuntimeError("the simulators are already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._serve, args=(loop,), name="coalwatch-sim")
        thread.daemon = True  # a forgotten stop() must not hang the interpreter's exit
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            self._call(self._start_all())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close every server and end the loop thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if thread.is_alive():
                self._call(self._stop_all())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT_S)
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        serve_loop(loop)

    def _call(self, coroutine: Any) -> Any:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the simulators are not running: call start() first")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_START_TIMEOUT_S)

    async def _start_all(self) -> None:
        for server in self._servers.values():
            await server.start()

    async def _stop_all(self) -> None:
        for server in self._servers.values():
            await server.stop()

    # -- what tests and the demo use ------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        """Every instrument's key (belt code, belt code + "-IO", trip code)."""
        return list(self._servers)

    @property
    def endpoints(self) -> dict[str, tuple[str, int]]:
        """(host, port) per instrument key; the port stays the same across link drops."""
        if self._thread is None:
            raise RuntimeError("the simulators are not running: call start() first")
        return {key: (s.host, s.port) for key, s in self._servers.items()}

    def _server(self, key: str) -> InstrumentServer:
        try:
            return self._servers[key]
        except KeyError:
            raise KeyError(
                f"no instrument {key!r}; there are: {', '.join(self._servers)}"
            ) from None

    def state(self, key: str) -> dict[str, Any]:
        """The truth now: a belt's ``total_kg`` (what the display shows, whole kg) and
        ``produced_kg`` (all weighed since start), a trip scale's ``trip_count`` and
        ``trips_kg``, with every fault's effect; ``link_up`` per server."""
        server = self._server(key)
        owner = self._owner[key]
        state = owner.state()
        if self._is_io(key):
            return {
                "running": state["running"],
                "door_open": state["door_open"],
                "power": state["power"],
                "link_up": server.listening,
            }
        state["link_up"] = server.listening
        io = self._servers.get(key + IO_SUFFIX)
        if key in self.belts and io is not None:
            state["io_link_up"] = io.listening
        return state

    def inject(self, key: str, fault: str, **params: Any) -> None:
        """Apply a fault now: ``link_drop`` / ``link_restore`` act on that key's server
        alone; the others act on the instrument (an I/O key's on its belt point)."""
        server = self._server(key)
        if fault not in self.faults(key):
            raise UnknownFault(
                f"no fault {fault!r} for {key}; there are: {', '.join(self.faults(key))}"
            )
        if fault == "link_drop":
            self._call(server.stop())
        elif fault == "link_restore":
            self._call(server.start())
        else:
            self._owner[key].inject(fault, **params)

    def faults(self, key: str) -> tuple[str, ...]:
        """The faults ``inject`` takes for an instrument key."""
        self._server(key)
        if self._is_io(key):
            return (*IO_FAULTS, *LINK_FAULTS)
        return (*self._owner[key].faults(), *LINK_FAULTS)

    def _is_io(self, key: str) -> bool:
        return key.endswith(IO_SUFFIX) and key not in self.belts and key not in self.trips

    def freeze(self) -> None:
        """Stop all production at once (every clock stops; servers keep answering)."""
        for owner in self._instruments():
            owner.freeze()

    def unfreeze(self) -> None:
        for owner in self._instruments():
            owner.unfreeze()

    def _instruments(self) -> Iterator[Instrument]:
        yield from self.belts.values()
        yield from self.trips.values()

    # -- the station's view ---------------------------------------------------------------

    def station_config(
        self,
        station_code: str,
        key_file: str | Path,
        centers: Sequence[str],
        outbox: str | Path,
        poll_interval_s: float | None = None,
    ) -> str:
        """A station.toml (see ``coalwatch.station.config``) that polls these simulators:
        one bus per instrument; a belt point's devices are its integrator and its I/O.
        Paths are written as given (the station reads relative ones from the file's
        directory); map names as in the specs (shipped names, or paths likewise)."""
        ends = self.endpoints
        lines = [
            "# polls the simulators of `coalwatch sim` (generated)",
            "[station]",
            f"code = {_toml(station_code)}",
            f"key_file = {_toml(str(key_file))}",
            f"centers = [{', '.join(_toml(c) for c in centers)}]",
            f"outbox = {_toml(str(outbox))}",
        ]
        if poll_interval_s is not None:
            lines.append(f"poll_interval_s = {poll_interval_s!r}")
        for key, (host, port) in ends.items():
            lines += ["", f"[buses.{_toml(key)}]", 'kind = "tcp"', f"host = {_toml(host)}"]
            lines.append(f"port = {port}")

        def device(key: str, map_name: str) -> list[str]:
            return [
                "[[points.devices]]",
                f"bus = {_toml(key)}",
                f"unit = {self._servers[key].unit}",
                f"map = {_toml(map_name)}",
            ]

        for code, spec in self._belt_specs.items():
            lines += ["", "[[points]]", f"code = {_toml(code)}", 'kind = "belt"']
            lines += device(code, spec.map)
            if code + IO_SUFFIX in self._servers:
                lines += device(code + IO_SUFFIX, IO_MAP)
                # the outlet's beacon 声光预警: the I/O module's output coil
                io_unit = self._servers[code + IO_SUFFIX].unit
                lines += ["[points.signal]", f"bus = {_toml(code + IO_SUFFIX)}"]
                lines += [f"unit = {io_unit}", f"coil = {BEACON_COIL}"]
        for code, trip in self._trip_specs.items():
            lines += ["", "[[points]]", f"code = {_toml(code)}", f"kind = {_toml(trip.kind)}"]
            lines += device(code, trip.map)
        return "\n".join(lines) + "\n"
