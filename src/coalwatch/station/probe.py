"""``coalwatch station probe``: the commissioning check of a station's register maps.

Reads every value each device's map names once (and the totalizer and rate a second
time after ``interval_s`` to compare the total's advance with the rate), and reports
per value the raw words, the value decoded as the map says and in the other word orders,
and what is implausible: sentinel codes, values out of range, a word-order format word
that disagrees with the map, a totalizer whose advance does not fit the rate. It writes
nothing; with ``parameters`` it also reads a device's parameters through its read
handshake (BW500), whose request words are its only writes, and it says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import get_args

from coalwatch.station.access import handshake_value, label, word_order_mismatch, word_order_of
from coalwatch.station.bus import Bus, BusError, Group
from coalwatch.station.config import StationConfig, load_config
from coalwatch.station.registers import (
    Bit,
    Order,
    RegisterMap,
    RegisterValue,
    Sentinel,
    Totalizer,
    bit_value,
    decode,
    to_tonnes,
)

ORDERS: tuple[Order, ...] = get_args(Order)
#: no belt conveyor carries more (the largest carry some 10,000-20,000 t/h)
MAX_FLOW_TPH = Decimal(30_000)
#: a total's advance fits the rate when within this share of it, or this many tonnes
FIT_SHARE = Decimal("0.5")
FIT_TONNES = Decimal("0.05")

#: exit codes: all read and plausible; a device could not be reached; something flagged
OK, UNREACHABLE, FLAGGED = 0, 1, 2


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.unreachable:
            return UNREACHABLE
        return FLAGGED if self.flags else OK


def _hex(words: list[int]) -> str:
    return " ".join(f"{w:04X}" for w in words) + "  (" + " ".join(str(w) for w in words) + ")"


def _decoded(words: list[int], spec: RegisterValue) -> str:
    try:
        return f"{decode(words, spec).normalize():f}"
    except Sentinel as exc:
        return f"sentinel {exc.raw}"
    except ValueError as exc:
        return str(exc)


def _where(registers: RegisterMap, spec: RegisterValue | Bit) -> str:
    offset = registers.offset(spec.address)
    return f"{spec.table.value} {spec.address} (protocol {offset})"


class Prober:
    """One device of one point, as the map describes it."""

    def __init__(
        self,
        report: Report,
        name: str,
        bus: Bus,
        unit: int,
        registers: RegisterMap,
        parameters: bool = False,
    ) -> None:
        self.parameters = parameters
        self.report = report
        self.name = name
        self.bus = bus
        self.unit = unit
        self.map = registers

    def say(self, line: str) -> None:
        self.report.lines.append(line)

    def flag(self, what: str) -> None:
        self.report.flags.append(f"{self.name}: {what}")
        self.say(f"      ! {what}")

    async def words(self, spec: RegisterValue) -> list[int]:
        group = Group(spec.table, self.map.offset(spec.address), spec.words)
        (words,) = await self.bus.read(self.unit, [group])
        return [int(w) for w in words]

    async def value(self, name: str, spec: RegisterValue) -> list[int] | None:
        """Print one value: raw words, as configured, in the other orders; flag it."""
        try:
            words = await self.words(spec)
        except BusError as exc:
            if "exception response" not in str(exc):
                raise
            self.say(f"  {name}: {_where(self.map, spec)}")
            self.flag(f"{name}: the device refused the read ({exc})")
            return None
        self.say(f"  {name}: {_where(self.map, spec)}, {spec.type.value}, words {_hex(words)}")
        unit = f" {spec.unit}" if isinstance(spec, Totalizer) else " t/h" if name == "flow" else ""
        detail = f"{spec.order}" if spec.words > 1 else spec.type.value
        if spec.decimals:
            detail += f", {spec.decimals} decimals"
        if spec.scale != 1:
            detail += f", × {spec.scale}"
        self.say(f"      as configured ({detail}): {_decoded(words, spec)}{unit}")
        if spec.words > 1:
            others = [
                f"{order} {_decoded(words, spec.model_copy(update={'order': order}))}"
                for order in ORDERS
                if order != spec.order
            ]
            self.say(f"      other orders: {'   '.join(others)}")
        self.check(name, spec, words)
        return words

    def check(self, name: str, spec: RegisterValue, words: list[int]) -> None:
        try:
            value = decode(words, spec)
        except Sentinel as exc:
            if name != "error_code":
                self.flag(f"{name} reads sentinel code {exc.raw} (no number)")
            else:
                self.flag(f"error code reads {exc.raw}: the instrument reports a fault")
            return
        except ValueError as exc:
            self.flag(f"{name}: {exc}")
            return
        if name == "error_code" and value != 0:
            self.flag(f"error code {value}: the instrument reports a fault")
        if name in ("totalizer", "flow", "trip_counter", "trip_net") and value < 0:
            self.flag(f"{name} reads {value}, below zero")
        if isinstance(spec, Totalizer) and spec.modulus is not None and value >= spec.modulus:
            self.flag(f"totalizer reads {value}, at or above its modulus {spec.modulus}")
        if name == "flow" and value > MAX_FLOW_TPH:
            self.flag(f"flow reads {value} t/h, more than any belt carries ({MAX_FLOW_TPH})")

    async def bit(self, name: str, spec: Bit) -> None:
        group = Group(spec.table, self.map.offset(spec.address), 1)
        try:
            (raw,) = await self.bus.read(self.unit, [group])
        except BusError as exc:
            if "exception response" not in str(exc):
                raise
            self.say(f"  {name}: {_where(self.map, spec)}")
            self.flag(f"{name}: the device refused the read ({exc})")
            return
        shown = raw[0]
        invert = ", inverted" if spec.invert else ""
        self.say(
            f"  {name}: {_where(self.map, spec)}, raw {int(shown)}{invert} → "
            f"{bit_value(shown, spec)}"
        )

    async def word_order(self) -> None:
        spec = self.map.word_order
        if spec is None:
            return
        value_spec = RegisterValue(table=spec.table, address=spec.address)
        try:
            (value,) = await self.words(value_spec)
        except BusError as exc:
            if "exception response" not in str(exc):
                raise
            self.flag(f"word-order format word {spec.address}: the device refused ({exc})")
            return
        order = word_order_of(value, self.map) or "unknown"
        self.say(f"  word-order format word: {_where(self.map, value_spec)} = {value} ({order})")
        mismatch = word_order_mismatch(value, self.map)
        if mismatch is not None:
            self.flag(mismatch)
        else:
            self.say("      agrees with the map")

    async def handshake(self) -> None:
        access = self.map.parameter_access
        if access is None:
            return
        if not self.parameters:
            self.say(
                f"  parameters behind the read handshake at {access.address}: not read "
                "(--parameters reads them, writing the request words there)"
            )
            return
        offset = self.map.offset(access.address)
        self.say(
            f"  parameters through the read handshake at {access.address} (writes the request "
            f"words to {access.address}–{access.address + 3} only):"
        )
        for parameter in access.parameters:
            request = access.request(parameter)
            try:
                words = await self.bus.handshake(self.unit, offset, request, 2, access.attempts)
            except BusError as exc:
                if "cannot connect" in str(exc) or "no answer" in str(exc):
                    raise
                self.flag(f"{label(parameter)}: not read ({exc})")
                continue
            self.say(
                f"      {label(parameter)}: request {request}, value words {_hex(words)} → "
                f"{handshake_value(words, parameter)}"
            )

    async def total_vs_rate(self, first: list[int] | None, interval_s: float) -> None:
        total, flow = self.map.totalizer, self.map.flow
        if total is None or flow is None or first is None or interval_s <= 0:
            return
        rate0 = await self.words(flow)
        await asyncio.sleep(interval_s)
        second = await self.words(total)
        rate1 = await self.words(flow)
        try:
            rates = [decode(rate0, flow), decode(rate1, flow)]
        except (Sentinel, ValueError):
            self.say("  total vs rate: the rate has no number; not compared")
            return
        # t/h over seconds: the mean rate × s / 3600
        expected = (rates[0] + rates[1]) / 2 * Decimal(str(interval_s)) / 3600
        self.say(
            f"  total vs rate over {interval_s:g} s: the rate ({rates[0]:f} → {rates[1]:f} t/h) "
            f"gives {expected.quantize(Decimal('0.001'))} t; the total advanced:"
        )
        fits: list[str] = []
        for order in ORDERS:
            spec = total.model_copy(update={"order": order})
            try:
                advance = to_tonnes(decode(second, spec), spec.unit) - to_tonnes(
                    decode(first, spec), spec.unit
                )
            except (Sentinel, ValueError) as exc:
                self.say(f"      {order}: {exc}")
                continue
            ok = abs(advance - expected) <= max(FIT_TONNES, FIT_SHARE * expected)
            if ok:
                fits.append(order)
            mark = " (configured)" if order == total.order else ""
            self.say(f"      {order}{mark}: {advance} t{'  fits' if ok else ''}")
        if total.order not in fits:
            hint = f"; it fits in {', '.join(fits)}" if fits else ""
            self.flag(
                f"totalizer advance as configured ({total.order}) does not fit the rate{hint}"
            )

    async def run(self, interval_s: float) -> None:
        m = self.map
        totals: list[int] | None = None
        await self.word_order()
        for name in ("totalizer", "flow", "error_code", "trip_counter", "trip_net"):
            spec = getattr(m, name)
            if spec is not None:
                words = await self.value(name, spec)
                if name == "totalizer":
                    totals = words
        for i, parameter in enumerate(m.parameters):
            await self.value(f"parameter register {i}", parameter)
        for name in ("conveyor_running", "door_open", "mains_power"):
            spec = getattr(m, name)
            if spec is not None:
                await self.bit(name, spec)
        await self.handshake()
        await self.total_vs_rate(totals, interval_s)


async def probe(
    config: StationConfig,
    maps: dict[tuple[str, int], RegisterMap],
    interval_s: float,
    parameters: bool = False,
) -> Report:
    report = Report()
    buses = {name: Bus(name, spec) for name, spec in config.buses.items()}
    writes = (
        "nothing is written except the request words of a read handshake "
        "(BW500 parameters: parameter number, index, format)"
        if parameters
        else "nothing is written"
    )
    report.lines.append(
        f"station {config.station.code}: probing {sum(len(p.devices) for p in config.points)} "
        f"devices; {writes}"
    )
    try:
        for point in config.points:
            for index, device in enumerate(point.devices):
                bus = buses[device.bus]
                name = f"point {point.code} device {index}"
                registers = maps[(point.code, index)]
                report.lines += [
                    "",
                    f"{name}: bus {bus.describe()}, unit {device.unit}, "
                    f"map {device.map or 'inline'} (address base {registers.address_base})",
                ]
                try:
                    await Prober(report, name, bus, device.unit, registers, parameters).run(
                        interval_s
                    )
                except BusError as exc:
                    report.unreachable.append(f"{name}: {exc}")
                    report.lines.append(f"  ! cannot read: {exc}")
    finally:
        for bus in buses.values():
            bus.close()
    report.lines.append("")
    if report.flags:
        report.lines.append(f"{len(report.flags)} implausible:")
        report.lines += [f"  ! {flag}" for flag in report.flags]
    if report.unreachable:
        report.lines.append(f"{len(report.unreachable)} devices not reached:")
        report.lines += [f"  ! {what}" for what in report.unreachable]
    if not report.flags and not report.unreachable:
        report.lines.append("every value read and plausible: compare them with the displays")
    return report


def run_probe(config_path: Path, interval_s: float, parameters: bool = False) -> Report:
    """Load the configuration (ConfigError) and probe every device once."""
    config, maps = load_config(config_path)
    return asyncio.run(probe(config, maps, interval_s, parameters))
