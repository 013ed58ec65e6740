"""What an instrument's registers hold, computed from its readings and its register map.

The simulators encode with the station's own ``encode`` at the map's addresses, so
a simulator speaks exactly the map the station decodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from coalwatch.station.registers import (
    Bit,
    RegisterMap,
    RegisterValue,
    Table,
    encode,
)

REGISTER_TABLES = (Table.HOLDING, Table.INPUT)
#: a handshake area: parameter, primary and secondary index, format, read value (2), write
#: value (2)
HANDSHAKE_WORDS = 8
BIT_TABLES = (Table.COIL, Table.DISCRETE)


@dataclass(frozen=True)
class Readings:
    """An instrument's values in engineering terms; None renders as 0 / off."""

    total_kg: int | None = None
    flow_tph: Decimal | None = None
    error_code: int | None = None
    parameters: tuple[Decimal, ...] = ()
    trip_count: int | None = None
    trip_net_kg: int | None = None
    conveyor_running: bool | None = None
    door_open: bool | None = None
    mains_power: bool | None = None
    #: the word-order format word's value (the map's ``word_order``)
    word_order_code: int | None = None
    #: the parameter-access handshake area: request echo, read value, write value
    handshake: tuple[int, ...] = ()


@dataclass
class Image:
    """Protocol (0-based) addresses → register words, per table; and bits per table."""

    registers: dict[Table, dict[int, int]] = field(
        default_factory=lambda: {t: {} for t in REGISTER_TABLES}
    )
    bits: dict[Table, dict[int, bool]] = field(default_factory=lambda: {t: {} for t in BIT_TABLES})


def kg_in_unit(kg: int, unit: str) -> Decimal:
    """A whole number of kilograms as the engineering value in ``unit`` (exact)."""
    return Decimal(kg) if unit == "kg" else Decimal(kg).scaleb(-3)


def modulus_kg(registers: RegisterMap) -> int | None:
    """The totalizer's wrap in whole kilograms (None: it does not wrap)."""
    spec = registers.totalizer
    if spec is None or spec.modulus is None:
        return None
    kg = spec.modulus * (1 if spec.unit == "kg" else 1000)
    if kg != kg.to_integral_value() or kg <= 0:
        raise ValueError(f"totalizer modulus {spec.modulus} {spec.unit} is not whole kilograms")
    return int(kg)


class _Writer:
    def __init__(self, registers: RegisterMap) -> None:
        self.map = registers
        self.image = Image()
        #: who wrote each word, so that a map whose values overlap is refused
        self.owner: dict[tuple[Table, int], str] = {}

    def value(self, name: str, spec: RegisterValue, value: Decimal) -> None:
        start = self.map.offset(spec.address)
        for i, word in enumerate(encode(value, spec)):
            self._claim(spec.table, start + i, name)
            self.image.registers[spec.table][start + i] = word

    def bit(self, name: str, spec: Bit, on: bool) -> None:
        raw = on != spec.invert
        offset = self.map.offset(spec.address)
        if spec.table in BIT_TABLES:
            self._claim(spec.table, offset, name)
            self.image.bits[spec.table][offset] = raw
            return
        words = self.image.registers[spec.table]
        if spec.bit is None:
            self._claim(spec.table, offset, name)
            words[offset] = int(raw)
            return
        # several flags may share one register, each in its own bit
        self._claim(spec.table, offset, f"bits@{offset}")
        mask = 1 << spec.bit
        words[offset] = (words.get(offset, 0) | mask) if raw else (words.get(offset, 0) & ~mask)

    def _claim(self, table: Table, offset: int, name: str) -> None:
        previous = self.owner.setdefault((table, offset), name)
        if previous != name:
            raise ValueError(f"{name} and {previous} overlap at {table} offset {offset}")


def render(registers: RegisterMap, readings: Readings) -> Image:
    """Every value the map names, encoded at its address (the same addresses always)."""
    w = _Writer(registers)
    m = registers
    if m.totalizer is not None:
        w.value("totalizer", m.totalizer, kg_in_unit(readings.total_kg or 0, m.totalizer.unit))
    if m.flow is not None:
        w.value("flow", m.flow, readings.flow_tph or Decimal(0))
    if m.error_code is not None:
        w.value("error_code", m.error_code, Decimal(readings.error_code or 0))
    for i, spec in enumerate(m.parameters):
        value = readings.parameters[i] if i < len(readings.parameters) else Decimal(0)
        w.value(f"parameters[{i}]", spec, value)
    if m.word_order is not None:
        spec = RegisterValue(table=m.word_order.table, address=m.word_order.address)
        w.value("word_order", spec, Decimal(readings.word_order_code or 0))
    if m.parameter_access is not None:
        start = m.offset(m.parameter_access.address)
        for i, word in enumerate(readings.handshake or (0,) * HANDSHAKE_WORDS):
            w._claim(Table.HOLDING, start + i, "parameter_access")
            w.image.registers[Table.HOLDING][start + i] = word
    if m.trip_counter is not None:
        w.value("trip_counter", m.trip_counter, Decimal(readings.trip_count or 0))
    if m.trip_net is not None:
        w.value("trip_net", m.trip_net, kg_in_unit(readings.trip_net_kg or 0, m.trip_net.unit))
    if m.conveyor_running is not None:
        w.bit("conveyor_running", m.conveyor_running, bool(readings.conveyor_running))
    if m.door_open is not None:
        w.bit("door_open", m.door_open, bool(readings.door_open))
    if m.mains_power is not None:
        w.bit("mains_power", m.mains_power, bool(readings.mains_power))
    return w.image
