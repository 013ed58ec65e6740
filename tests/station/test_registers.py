"""Register maps: every type in every word/byte order, worked out by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from coalwatch.station.config import SHIPPED_MAPS, load_map
from coalwatch.station.registers import (
    Bit,
    RegisterMap,
    RegisterValue,
    Sentinel,
    Table,
    Totalizer,
    ValueType,
    bit_value,
    decode,
    encode,
    to_tonnes,
)

ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


def spec(type_: str, order: str = "ABCD", **kw: object) -> RegisterValue:
    return RegisterValue.model_validate({"address": 0, "type": type_, "order": order, **kw})


# 1234.567 t with 3 implied decimals is 1234567 = 0x0012D687 (18 × 65536 + 54919)
BW500_TOTAL = {
    "ABCD": [0x0012, 0xD687],
    "CDAB": [0xD687, 0x0012],
    "BADC": [0x1200, 0x87D6],
    "DCBA": [0x87D6, 0x1200],
}
# float32 1.5 = sign 0, exponent 127 (0x7F), mantissa .5 → 0x3FC00000
FLOAT32_1_5 = {
    "ABCD": [0x3FC0, 0x0000],
    "CDAB": [0x0000, 0x3FC0],
    "BADC": [0xC03F, 0x0000],
    "DCBA": [0x0000, 0xC03F],
}
# float64 1.5 = 0x3FF8000000000000; CDAB reverses the four words
FLOAT64_1_5 = {
    "ABCD": [0x3FF8, 0, 0, 0],
    "CDAB": [0, 0, 0, 0x3FF8],
    "BADC": [0xF83F, 0, 0, 0],
    "DCBA": [0, 0, 0, 0xF83F],
}
# int32 −2 = 0xFFFFFFFE
INT32_MINUS_2 = {
    "ABCD": [0xFFFF, 0xFFFE],
    "CDAB": [0xFFFE, 0xFFFF],
    "BADC": [0xFFFF, 0xFEFF],
    "DCBA": [0xFEFF, 0xFFFF],
}


@pytest.mark.parametrize("order", ORDERS)
def test_bw500_uint32_with_three_decimals_in_every_order(order: str) -> None:
    s = spec("uint32", order, decimals=3)
    assert encode(Decimal("1234.567"), s) == BW500_TOTAL[order]
    assert decode(BW500_TOTAL[order], s) == Decimal("1234.567")


@pytest.mark.parametrize("order", ORDERS)
def test_float32_in_every_order(order: str) -> None:
    s = spec("float32", order)
    assert encode(Decimal("1.5"), s) == FLOAT32_1_5[order]
    assert decode(FLOAT32_1_5[order], s) == Decimal("1.5")


@pytest.mark.parametrize("order", ORDERS)
def test_float64_in_every_order(order: str) -> None:
    s = spec("float64", order)
    assert encode(Decimal("1.5"), s) == FLOAT64_1_5[order]
    assert decode(FLOAT64_1_5[order], s) == Decimal("1.5")


@pytest.mark.parametrize("order", ORDERS)
def test_int32_negative_in_every_order(order: str) -> None:
    s = spec("int32", order)
    assert encode(Decimal(-2), s) == INT32_MINUS_2[order]
    assert decode(INT32_MINUS_2[order], s) == Decimal(-2)


def test_sixteen_bit_types_ignore_word_order() -> None:
    # one register has no word order; BADC/DCBA swap its bytes: 7345 = 0x1CB1 → 0xB11C
    assert encode(Decimal("7.345"), spec("uint16", decimals=3)) == [7345]
    assert encode(Decimal("7.345"), spec("uint16", "CDAB", decimals=3)) == [7345]
    assert encode(Decimal("7.345"), spec("uint16", "BADC", decimals=3)) == [0xB11C]
    assert decode([0xB11C], spec("uint16", "DCBA", decimals=3)) == Decimal("7.345")
    assert encode(Decimal(-2), spec("int16")) == [0xFFFE]
    assert decode([0xFFFE], spec("int16")) == Decimal(-2)
    assert decode([0xFFFE], spec("uint16")) == Decimal(65534)


@pytest.mark.parametrize("type_", [t.value for t in ValueType])
@pytest.mark.parametrize("order", ORDERS)
def test_round_trip_every_type_and_order(type_: str, order: str) -> None:
    signed = type_ in ("int16", "int32", "float32", "float64")
    for value in (
        Decimal(0),
        Decimal(1),
        Decimal(12345),
        Decimal(-300) if signed else Decimal(300),
    ):
        s = spec(type_, order)
        assert decode(encode(value, s), s) == value, (type_, order, value)


def test_scale_turns_kg_per_hour_into_t_per_hour() -> None:
    # INTECONT feed rate in kg/h: 640 t/h is 640000.0 = 0x491C4000 (2^19 × 1.220703125)
    s = spec("float32", scale="0.001")
    assert encode(Decimal(640), s) == [0x491C, 0x4000]
    assert decode([0x491C, 0x4000], s) == Decimal(640)


def test_float32_keeps_whole_kilograms_below_2_pow_24() -> None:
    s = spec("float32")
    assert decode(encode(Decimal(16_777_215), s), s) == Decimal(16_777_215)
    # above 2^24 the float32 step is 2 kg: 16,777,217 kg reads back as 16,777,216
    assert decode(encode(Decimal(16_777_217), s), s) == Decimal(16_777_216)


def test_sentinel_codes_raise_sentinel() -> None:
    s = spec("uint16", sentinels=[22222, 30000])
    with pytest.raises(Sentinel) as caught:
        decode([22222], s)
    assert caught.value.raw == 22222
    with pytest.raises(Sentinel):
        decode([30000], s)
    assert decode([22221], s) == Decimal(22221)


def test_sentinel_is_matched_on_the_raw_value_before_decimals() -> None:
    # 22222 with 3 decimals would be 22.222: the code is the raw register value
    s = spec("uint32", decimals=3, sentinels=[22222])
    with pytest.raises(Sentinel):
        decode([0, 22222], s)


def test_wrong_register_count_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode([1], spec("uint32"))


def test_non_finite_float_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        decode([0x7FC0, 0x0000], spec("float32"))  # NaN
    with pytest.raises(ValueError, match="finite"):
        decode([0x7F80, 0x0000], spec("float32"))  # +inf


def test_address_base_40001_lets_manual_numbers_be_typed_as_printed() -> None:
    registers = RegisterMap(address_base=40001)
    assert registers.offset(41016) == 1015
    assert registers.offset(40001) == 0
    with pytest.raises(ValueError, match="below"):
        registers.offset(40000)
    assert RegisterMap(address_base=1).offset(1) == 0
    assert RegisterMap().offset(0x0752) == 0x0752


def test_bit_of_a_register() -> None:
    s = Bit(table=Table.HOLDING, address=0, bit=3)
    assert bit_value(0b1000, s) is True
    assert bit_value(0b0111, s) is False
    assert bit_value(0b1000, Bit(table=Table.INPUT, address=0, bit=3, invert=True)) is False


def test_coil_and_discrete_input_with_invert() -> None:
    assert bit_value(True, Bit(table=Table.COIL, address=0)) is True
    # a normally closed door switch: the contact reads 0 when the door is open
    door = Bit(table=Table.DISCRETE, address=1, invert=True)
    assert bit_value(False, door) is True
    assert bit_value(True, door) is False


def test_whole_register_as_a_flag() -> None:
    s = Bit(table=Table.HOLDING, address=5)
    assert bit_value(0, s) is False
    assert bit_value(0x0100, s) is True


def test_bit_number_is_for_registers_only() -> None:
    with pytest.raises(ValidationError, match="holding or input"):
        Bit(table=Table.COIL, address=0, bit=2)


def test_to_tonnes_keeps_kilograms() -> None:
    assert to_tonnes(Decimal(8250), "kg") == Decimal("8.250")
    assert to_tonnes(Decimal("1234.5675"), "t") == Decimal("1234.568")  # half up


@pytest.mark.parametrize("name", SHIPPED_MAPS)
def test_every_shipped_map_loads(name: str) -> None:
    assert isinstance(load_map(name, Path.cwd()), RegisterMap)


def test_bw500_map_is_the_manual_layout() -> None:
    bw500 = load_map("bw500", Path.cwd())
    assert bw500.totalizer is not None and bw500.flow is not None
    assert bw500.offset(bw500.totalizer.address) == 1015  # total 1 at 41,016
    assert bw500.offset(bw500.flow.address) == 1009  # rate at 41,010
    assert bw500.totalizer.modulus == Decimal("4294967.296")
    # the top value 4,294,967.295 t is 0xFFFFFFFF
    assert encode(Decimal("4294967.295"), bw500.totalizer) == [0xFFFF, 0xFFFF]


def test_totalizer_spec_defaults() -> None:
    t = Totalizer(address=0)
    assert (t.unit, t.modulus, t.words) == ("t", None, 1)
