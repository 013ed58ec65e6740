"""What the station asks of an instrument beyond plain reads: parameters through the
device's own read handshake, and the check of its word-order format word against the map.

A BW500 keeps its calibration (span, zero, belt length, speed constant, totalizer
resolution) in parameters, not in registers: a client writes the parameter number to the
handshake area and reads the value back (``RegisterMap.parameter_access``). A change of
any of them is a ``parameter_change``, like a change of a parameter register.
"""

from __future__ import annotations

from decimal import Decimal

from coalwatch.station.bus import Bus
from coalwatch.station.registers import HandshakeParameter, RegisterMap

#: the words a fingerprint item holds, named for the detail of a parameter_change
Fingerprint = list[tuple[str, tuple[int, ...]]]


def label(parameter: HandshakeParameter) -> str:
    """``P016 belt_length`` (index shown when there is one: ``P631.1 ...``)."""
    index = f".{parameter.primary_index}" if parameter.primary_index else ""
    return f"P{parameter.number:03d}{index} {parameter.name}"


def handshake_value(words: list[int] | tuple[int, ...], parameter: HandshakeParameter) -> Decimal:
    """A value read through the handshake: a signed 32-bit integer, most significant word
    first, with the decimals the request asked for."""
    raw = (words[0] << 16) | words[1]
    if raw >= 1 << 31:
        raw -= 1 << 32
    return Decimal(raw).scaleb(-parameter.decimals)


async def read_parameters(bus: Bus, unit: int, registers: RegisterMap) -> Fingerprint:
    """Every handshake parameter of the map, read once (raises BusError)."""
    access = registers.parameter_access
    if access is None:
        return []
    offset = registers.offset(access.address)
    items: Fingerprint = []
    for parameter in access.parameters:
        words = await bus.handshake(unit, offset, access.request(parameter), 2, access.attempts)
        items.append((label(parameter), tuple(words)))
    return items


def word_order_of(value: int, registers: RegisterMap) -> str | None:
    """The word order the device's format word says it uses (None: a value the map does
    not know)."""
    if registers.word_order is None:
        return None
    for order, code in registers.word_order.orders.items():
        if code == value:
            return order
    return None


def word_order_mismatch(value: int, registers: RegisterMap) -> str | None:
    """Why the device's format word disagrees with the map's 32-bit values (None: agrees).

    Only the word order is compared: ABCD and BADC send the most significant word
    first, CDAB and DCBA the least significant.
    """
    spec = registers.word_order
    if spec is None:
        return None
    device = word_order_of(value, registers)
    known = ", ".join(f"{code} = {order}" for order, code in spec.orders.items())
    if device is None:
        return (
            f"word-order format word {spec.address} reads {value}, which the map does not "
            f"know ({known}): the device's 32-bit values cannot be trusted"
        )
    wrong = [
        f"{name} ({value_spec.order})"
        for name, value_spec in registers.wide_values()
        if _msw_first(value_spec.order) != _msw_first(device)
    ]
    if not wrong:
        return None
    first = "most" if _msw_first(device) else "least"
    return (
        f"word order disagrees: the device's format word {spec.address} reads {value} "
        f"({device}, {first} significant word first) but the map reads "
        f"{', '.join(wrong)}; fix the map's order or the device's setting"
    )


def _msw_first(order: str) -> bool:
    return order in ("ABCD", "BADC")
