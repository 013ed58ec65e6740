"""Register images: the simulators put each value at its map's address, encoded by the map."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from coalwatch.sim.image import Readings, modulus_kg, render
from coalwatch.station.config import load_map
from coalwatch.station.registers import Bit, RegisterMap, RegisterValue, Table


def shipped(name: str) -> RegisterMap:
    return load_map(name, Path.cwd())


def test_bw500_total_sits_at_41016_as_uint32_tonnes() -> None:
    # 1,234,567 kg = 1234.567 t → 1234567 = 0x0012D687 at offset 1015 (41,016 − 40,001)
    image = render(shipped("bw500"), Readings(total_kg=1_234_567, flow_tph=Decimal("640.5")))
    words = image.registers[Table.HOLDING]
    assert [words[1015], words[1016]] == [0x0012, 0xD687]
    # 640.500 t/h → 640500 = 0x0009C5F4 at 41,010
    assert [words[1009], words[1010]] == [0x0009, 0xC5F4]
    assert words[1199] == 0  # error code at 41,200
    assert [words[89], words[90], words[91], words[92]] == [
        0,
        0,
        0,
        0,
    ]  # the handshake area 40,090–93: no request yet


def test_intecont_total_is_float32_kilograms() -> None:
    # 1500 kg = 0x44BB8000 at 0x0752; 600 t/h is 600000 kg/h = 0x49127C00 at 0x0750
    image = render(shipped("intecont"), Readings(total_kg=1500, flow_tph=Decimal(600)))
    words = image.registers[Table.HOLDING]
    assert [words[0x0752], words[0x0753]] == [0x44BB, 0x8000]
    assert [words[0x0750], words[0x0751]] == [0x4912, 0x7C00]


def test_trip_indicator_counter_and_last_net() -> None:
    image = render(shipped("trip_indicator"), Readings(trip_count=70_000, trip_net_kg=9_876))
    words = image.registers[Table.HOLDING]
    assert [words[100], words[101]] == [0x0001, 0x1170]  # 70000 = 0x00011170
    assert [words[102], words[103]] == [0x0000, 0x2694]  # 9876 = 0x2694


def test_station_io_door_switch_is_normally_closed() -> None:
    io = shipped("station_io")
    closed = render(io, Readings(conveyor_running=True, door_open=False, mains_power=True))
    opened = render(io, Readings(conveyor_running=False, door_open=True, mains_power=False))
    assert closed.bits[Table.DISCRETE] == {0: True, 1: True, 2: True}
    assert opened.bits[Table.DISCRETE] == {0: False, 1: False, 2: False}


def test_flags_may_share_a_register_bit_by_bit() -> None:
    m = RegisterMap(
        conveyor_running=Bit(table=Table.HOLDING, address=7, bit=0),
        door_open=Bit(table=Table.HOLDING, address=7, bit=4, invert=True),
        mains_power=Bit(table=Table.INPUT, address=3),
    )
    image = render(m, Readings(conveyor_running=True, door_open=False, mains_power=True))
    assert image.registers[Table.HOLDING] == {7: 0b1_0001}
    assert image.registers[Table.INPUT] == {3: 1}


def test_overlapping_values_are_refused() -> None:
    m = RegisterMap(
        flow=RegisterValue(address=10, type="uint32"),
        error_code=RegisterValue(address=11),
    )
    with pytest.raises(ValueError, match="overlap"):
        render(m, Readings())


def test_modulus_in_kilograms() -> None:
    assert modulus_kg(shipped("bw500")) == 4_294_967_296
    assert modulus_kg(shipped("intecont")) is None
