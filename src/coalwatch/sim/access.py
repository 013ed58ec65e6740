"""An instrument's parameter-access handshake and word-order format word, as a BW500
implements them (Operating Instructions 12/2016, §11.5 "Handshaking Area (Parameter
Access)"): a client writes parameter, primary index, secondary index and format word;
the device echoes them and puts the value in the next two registers, formatted as the
format word asks (decimal offset, shift, word order; an error code in the low byte).

Only the request registers can be written; anything else is refused, and every write
is recorded (``writes``) so tests can tell what a client wrote.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from coalwatch.station.registers import Order, RegisterMap

#: format word bits (counted from 0): decimal offset 8-10, shift left 11, float 12,
#: write 13, least significant word first 14
_SHIFT_LEFT = 1 << 11
_FLOAT = 1 << 12
_WRITE = 1 << 13
_LSW_FIRST = 1 << 14
#: error code in the format word's low byte: no such parameter
NO_SUCH_PARAMETER = 2

#: values a commissioned BW500 might hold: speed constant (pulses/m), belt length (m),
#: zero and span counts, totalizer resolution (a choice: 3 is 0.001)
_TYPICAL = {15: "12.731", 16: "84.500", 367: "18342", 368: "31577", 631: "3"}

_SWAPPED: dict[str, Order] = {"ABCD": "CDAB", "CDAB": "ABCD", "BADC": "DCBA", "DCBA": "BADC"}


class Handshake:
    """The handshake area of one instrument and the parameters behind it."""

    def __init__(self, registers: RegisterMap, seed: int) -> None:
        self.map = registers
        access = registers.parameter_access
        self.offset = registers.offset(access.address) if access is not None else None
        rng = random.Random(seed ^ 0xACCE55)
        #: (number, primary index, secondary index) → value
        self.values: dict[tuple[int, int, int], Decimal] = {}
        self.names: dict[str, tuple[int, int, int]] = {}
        for parameter in access.parameters if access is not None else ():
            key = (parameter.number, parameter.primary_index, parameter.secondary_index)
            typical = _TYPICAL.get(parameter.number)
            value = (
                Decimal(typical)
                if typical is not None
                else Decimal(rng.randint(1000, 99999)).scaleb(-parameter.decimals)
            )
            self.values[key] = value
            self.names[parameter.name] = key
        self.request = [0, 0, 0, 0]
        #: (protocol address, words) of every write a client made
        self.writes: list[tuple[int, list[int]]] = []

    def write(self, address: int, words: list[int]) -> bool:
        """A client's write; False (refused) outside the request registers."""
        self.writes.append((address, list(words)))
        if self.offset is None or not (
            self.offset <= address and address + len(words) <= self.offset + 4
        ):
            return False
        for i, word in enumerate(words):
            self.request[address - self.offset + i] = word
        return True

    def set(self, name: str, value: Decimal) -> None:
        """Change a parameter, as a technician at the keypad would."""
        try:
            self.values[self.names[name]] = value
        except KeyError:
            raise ValueError(
                f"no handshake parameter {name!r}; there are: {', '.join(self.names)}"
            ) from None

    def area(self) -> tuple[int, ...]:
        """The eight words of the area: the request echoed (its low byte an error code when
        the parameter does not exist), the read value, and a zero write value."""
        number, primary, secondary, fmt = self.request
        value = self.values.get((number, primary, secondary))
        if value is None or fmt & (_FLOAT | _WRITE):
            echo_fmt = (fmt & ~0xFF) | NO_SUCH_PARAMETER
            return (number, primary, secondary, echo_fmt, 0, 0, 0, 0)
        places = (fmt >> 8) & 0x7
        scaled = value.scaleb(-places if fmt & _SHIFT_LEFT else places)
        raw = int(scaled.to_integral_value(rounding=ROUND_HALF_UP)) & 0xFFFFFFFF
        high, low = raw >> 16, raw & 0xFFFF
        words = (low, high) if fmt & _LSW_FIRST else (high, low)
        return (number, primary, secondary, fmt, *words, 0, 0)


def swapped_words(registers: RegisterMap) -> RegisterMap:
    """The map with every value of two or more registers in the other word order (what a
    device set to the other word order sends)."""
    update: dict[str, object] = {}
    for name, spec in registers.wide_values():
        swapped = spec.model_copy(update={"order": _SWAPPED[spec.order]})
        if name.startswith("parameters["):
            continue
        update[name] = swapped
    params = tuple(
        p.model_copy(update={"order": _SWAPPED[p.order]}) if p.words > 1 else p
        for p in registers.parameters
    )
    return registers.model_copy(update={**update, "parameters": params})
