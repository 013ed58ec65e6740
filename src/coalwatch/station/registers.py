"""Register maps: how a value sits in an instrument's Modbus registers, as data.

A map names, per value, the table and address (as printed in the manual, with
the map's address base), the type, the 32/64-bit word and byte order, implied
decimals or a scale, the unit, sentinel codes that mean "no value", and for a
totalizer the modulus at which it wraps. The station decodes with it; the
simulators encode with the same map, so both speak exactly what the manual says.
"""

from __future__ import annotations

import struct
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Table(StrEnum):
    HOLDING = "holding"  # 4xxxx
    INPUT = "input"  # 3xxxx
    COIL = "coil"  # 0xxxx
    DISCRETE = "discrete"  # 1xxxx


class ValueType(StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"


WORDS = {
    ValueType.UINT16: 1,
    ValueType.INT16: 1,
    ValueType.UINT32: 2,
    ValueType.INT32: 2,
    ValueType.FLOAT32: 2,
    ValueType.FLOAT64: 4,
}
_STRUCT = {
    ValueType.UINT16: ">H",
    ValueType.INT16: ">h",
    ValueType.UINT32: ">I",
    ValueType.INT32: ">i",
    ValueType.FLOAT32: ">f",
    ValueType.FLOAT64: ">d",
}

#: ABCD: most significant word and byte first (Modbus default); CDAB: words swapped;
#: BADC: bytes swapped in each word; DCBA: both (little-endian)
Order = Literal["ABCD", "CDAB", "BADC", "DCBA"]


class Sentinel(Exception):
    """The instrument put a code where a number belongs (invalid, off, error ...)."""

    def __init__(self, raw: int) -> None:
        super().__init__(f"sentinel code {raw}")
        self.raw = raw


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterValue(_Spec):
    """A number in one or more registers."""

    table: Literal[Table.HOLDING, Table.INPUT] = Table.HOLDING
    address: Annotated[int, Field(ge=0)]
    type: ValueType = ValueType.UINT16
    order: Order = "ABCD"
    #: implied decimals: 7345 with 3 decimals is 7.345
    decimals: Annotated[int, Field(ge=0, le=9)] = 0
    #: an extra factor (e.g. 0.001 for kg → t); applied after decimals
    scale: Decimal = Decimal(1)
    #: raw register values that mean "no number" (e.g. 22222 invalid, 30000 off)
    sentinels: tuple[int, ...] = ()

    @property
    def words(self) -> int:
        return WORDS[self.type]


class Bit(_Spec):
    """A coil, a discrete input, or one bit of a register; ``invert`` for NC contacts."""

    table: Table = Table.DISCRETE
    address: Annotated[int, Field(ge=0)]
    bit: Annotated[int, Field(ge=0, le=15)] | None = None
    invert: bool = False

    @model_validator(mode="after")
    def _bit_in_registers_only(self) -> Bit:
        if self.bit is not None and self.table in (Table.COIL, Table.DISCRETE):
            raise ValueError("'bit' applies to holding or input registers only")
        return self


class Totalizer(RegisterValue):
    """A cumulative total; ``unit`` says whether the engineering value is in t or kg."""

    unit: Literal["t", "kg"] = "t"
    #: the engineering value at which the counter wraps to zero (None: never)
    modulus: Decimal | None = None


class Counter(RegisterValue):
    """A counter of events (trips); ``modulus`` is the count at which it wraps."""

    modulus: Annotated[int, Field(ge=2)] | None = None


class Weight(RegisterValue):
    unit: Literal["t", "kg"] = "t"


class WordOrderWord(_Spec):
    """A register in which the device says how it sends 32-bit values (e.g. BW500 40,062:
    0 most significant word first, 1 least significant first); checked against the map."""

    table: Literal[Table.HOLDING, Table.INPUT] = Table.HOLDING
    address: Annotated[int, Field(ge=0)]
    #: the register's value for each word order the device offers
    orders: dict[Order, Annotated[int, Field(ge=0, le=65535)]]


class HandshakeParameter(_Spec):
    """A parameter read through a parameter-access handshake (e.g. BW500 P016 belt length)."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    number: Annotated[int, Field(ge=0, le=65535)]
    primary_index: Annotated[int, Field(ge=0, le=65535)] = 0
    secondary_index: Annotated[int, Field(ge=0, le=65535)] = 0
    #: decimals the device is asked to shift the value by (it answers an integer)
    decimals: Annotated[int, Field(ge=0, le=7)] = 0


class ParameterAccess(_Spec):
    """A read handshake: the client writes (parameter, primary index, secondary index,
    format word) to ``address``..+3, reads them back until the device echoes them (it has
    answered), then reads the value (two words, most significant first) at +4 and +5.
    The station writes nothing else: not the write value (+6, +7), never a command."""

    address: Annotated[int, Field(ge=0)]
    parameters: Annotated[tuple[HandshakeParameter, ...], Field(min_length=1)]
    #: read the parameters at the first poll, then at most this often
    every_s: Annotated[float, Field(ge=0)] = 60.0
    #: reads of the echo before the device is taken not to answer the handshake
    attempts: Annotated[int, Field(ge=1, le=20)] = 5

    @property
    def request_words(self) -> int:
        return 4

    def request(self, parameter: HandshakeParameter) -> list[int]:
        """The four words a read request writes: the format word asks for a fixed-point
        integer shifted right by the parameter's decimals, most significant word first."""
        fmt = parameter.decimals << 8  # bits 9-11 (from 1): decimal offset; all else 0: read
        return [parameter.number, parameter.primary_index, parameter.secondary_index, fmt]


class RegisterMap(_Spec):
    """What one instrument offers; only the values a point needs are given."""

    #: 0 or 1 for protocol addresses, 40001 (or 400001) to type manual numbers as printed
    address_base: Annotated[int, Field(ge=0)] = 0
    totalizer: Totalizer | None = None
    flow: RegisterValue | None = None
    conveyor_running: Bit | None = None
    door_open: Bit | None = None
    mains_power: Bit | None = None
    error_code: RegisterValue | None = None
    #: registers whose values together are the parameter fingerprint
    parameters: tuple[RegisterValue, ...] = ()
    #: parameters read through the device's own read handshake (part of the fingerprint)
    parameter_access: ParameterAccess | None = None
    #: the device's word-order format word, checked against the map's 32-bit orders
    word_order: WordOrderWord | None = None
    trip_counter: Counter | None = None
    trip_net: Weight | None = None
    #: where the station may write (never command registers); empty: read only
    writable: tuple[int, ...] = ()

    def wide_values(self) -> list[tuple[str, RegisterValue]]:
        """The values of two or more registers (those a word order applies to)."""
        named: list[tuple[str, RegisterValue | None]] = [
            ("totalizer", self.totalizer),
            ("flow", self.flow),
            ("error_code", self.error_code),
            ("trip_counter", self.trip_counter),
            ("trip_net", self.trip_net),
        ]
        named += [(f"parameters[{i}]", p) for i, p in enumerate(self.parameters)]
        return [(n, v) for n, v in named if v is not None and v.words > 1]

    def offset(self, address: int) -> int:
        """The protocol address (0-based) of an address as the map gives it."""
        if address < self.address_base:
            raise ValueError(f"address {address} is below the map's base {self.address_base}")
        return address - self.address_base


def _reorder(data: bytes, order: Order) -> bytes:
    """Between big-endian bytes (ABCD) and the wire order; the mapping is its own inverse."""
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    if order in ("CDAB", "DCBA"):
        words = words[::-1]
    return b"".join(words)


def decode(registers: list[int], spec: RegisterValue) -> Decimal:
    """The engineering value of a spec's registers (exact for integers).

    Raises Sentinel when the raw value is one of the spec's sentinel codes.
    """
    if len(registers) != spec.words:
        raise ValueError(f"{spec.type} needs {spec.words} registers, got {len(registers)}")
    wire = b"".join(r.to_bytes(2, "big") for r in registers)
    (raw,) = struct.unpack(_STRUCT[spec.type], _reorder(wire, spec.order))
    if isinstance(raw, int) and raw in spec.sentinels:
        raise Sentinel(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        value = Decimal(repr(raw))
    else:
        value = Decimal(raw)
    return value.scaleb(-spec.decimals) * spec.scale


def encode(value: Decimal, spec: RegisterValue) -> list[int]:
    """The registers that carry an engineering value (what an instrument would hold)."""
    unscaled = (value / spec.scale).scaleb(spec.decimals)
    if spec.type in (ValueType.FLOAT32, ValueType.FLOAT64):
        packed = struct.pack(_STRUCT[spec.type], float(unscaled))
    else:
        packed = struct.pack(_STRUCT[spec.type], int(unscaled.to_integral_value()))
    wire = _reorder(packed, spec.order)
    return [int.from_bytes(wire[i : i + 2], "big") for i in range(0, len(wire), 2)]


def bit_value(raw: bool | int, spec: Bit) -> bool:
    """A coil or input (bool), or a bit of a register (int), with inversion."""
    on = bool((raw >> spec.bit) & 1) if spec.bit is not None else bool(raw)
    return on != spec.invert


def to_tonnes(value: Decimal, unit: str) -> Decimal:
    """A weight in tonnes, to the kilogram (the center keeps kilograms)."""
    tonnes = value / 1000 if unit == "kg" else value
    return tonnes.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
