"""The instruments' truth over simulated time, on a hand-driven clock (no servers)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from coalwatch.sim.instruments import BeltPoint, TripScale, UnknownFault
from coalwatch.sim.profile import RateNoise, Schedule
from coalwatch.station.config import load_map
from coalwatch.station.registers import RegisterMap, decode

BW500_TOP_KG = 4_294_967_296


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def shipped(name: str) -> RegisterMap:
    return load_map(name, Path.cwd())


def belt(
    clock: FakeClock,
    *,
    rate_tph: float = 36.0,  # 10 kg a second: easy sums
    start_kg: int = 0,
    time_factor: float = 1.0,
    clock_start_h: float = 1.0,
    noise: float = 0.0,
    map_name: str = "bw500",
) -> BeltPoint:
    return BeltPoint(
        shipped(map_name),
        shipped("station_io"),
        rate_tph=rate_tph,
        start_kg=start_kg,
        noise=RateNoise(seed=3, relative_sd=noise),
        schedule=Schedule(),
        clock_start_s=clock_start_h * 3600,
        time_factor=time_factor,
        seed=3,
        clock=clock,
    )


def test_totalizer_counts_whole_kilograms_at_the_nominal_rate() -> None:
    clock = FakeClock()
    b = belt(clock)
    clock.advance(10)  # 36 t/h = 10 kg/s → 100 kg
    assert b.state()["total_kg"] == 100
    clock.advance(0.04)  # 0.4 kg stays inside the integrator until it makes a kilogram
    assert b.state()["total_kg"] == 100
    clock.advance(0.07)
    assert b.state()["total_kg"] == 101


def test_time_factor_speeds_production_up() -> None:
    clock = FakeClock()
    b = belt(clock, time_factor=60)
    clock.advance(1)  # one real second is a simulated minute: 600 kg
    assert b.state()["total_kg"] == 600


def test_noise_varies_the_rate_but_not_the_order_of_magnitude() -> None:
    clock = FakeClock()
    b = belt(clock, noise=0.1, time_factor=3600)
    clock.advance(2)  # two simulated hours at 36 t/h ± noise
    total = b.state()["total_kg"]
    assert 60_000 < total < 84_000
    assert total != 72_000


def test_production_does_not_depend_on_how_often_it_is_read() -> None:
    once, often = FakeClock(), FakeClock()
    a = belt(once, noise=0.2, time_factor=600, rate_tph=600)
    b = belt(often, noise=0.2, time_factor=600, rate_tph=600)
    once.advance(3)
    for _ in range(300):
        often.advance(0.01)
        b.image()
    assert abs(a.state()["total_kg"] - b.state()["total_kg"]) <= 1  # the carried fraction


def test_belt_stops_between_shifts() -> None:
    clock = FakeClock()
    b = belt(clock, clock_start_h=7.5 - 60 / 3600)  # 07:29:00; the stop is 07:30–08:00
    clock.advance(120)  # only the first minute runs: 600 kg
    state = b.state()
    assert state["total_kg"] == 600
    assert state["running"] is False
    assert state["flow_tph"] == 0


def test_freeze_holds_everything() -> None:
    clock = FakeClock()
    b = belt(clock)
    clock.advance(5)
    b.freeze()
    clock.advance(100)
    assert b.state()["total_kg"] == 50
    b.unfreeze()
    clock.advance(1)
    assert b.state()["total_kg"] == 60


def test_conveyor_stop_stops_counting_and_start_resumes() -> None:
    clock = FakeClock()
    b = belt(clock)
    clock.advance(1)
    b.inject("conveyor_stop")
    clock.advance(10)
    assert (b.state()["total_kg"], b.state()["running"]) == (10, False)
    b.inject("conveyor_start")
    clock.advance(1)
    assert (b.state()["total_kg"], b.state()["running"]) == (20, True)


def test_count_while_stopped_counts_with_the_conveyor_stopped() -> None:
    clock = FakeClock()
    b = belt(clock)
    b.inject("count_while_stopped")
    clock.advance(3)
    state = b.state()
    assert (state["total_kg"], state["running"], state["counting"]) == (30, False, True)
    assert state["flow_tph"] == Decimal("36.000")


def test_empty_belt_runs_without_counting() -> None:
    clock = FakeClock()
    b = belt(clock)
    b.inject("belt_empty")
    clock.advance(10)
    state = b.state()
    assert (state["total_kg"], state["running"], state["flow_tph"]) == (0, True, 0)
    b.inject("belt_load")
    clock.advance(1)
    assert b.state()["total_kg"] == 10


def test_power_off_stops_the_conveyor() -> None:
    clock = FakeClock()
    b = belt(clock)
    b.inject("power_off")
    clock.advance(10)
    state = b.state()
    assert (state["power"], state["running"], state["total_kg"]) == (False, False, 0)
    b.inject("power_on")
    assert b.state()["running"] is True


def test_reset_zeroes_the_display_but_not_what_was_produced() -> None:
    clock = FakeClock()
    b = belt(clock, start_kg=5_000)
    clock.advance(2)
    b.inject("reset_totalizer")
    clock.advance(1)
    state = b.state()
    assert (state["total_kg"], state["produced_kg"]) == (10, 30)


def test_bw500_total_wraps_at_its_modulus() -> None:
    # 100 kg below 4,294,967.296 t; 150 kg later the display shows 50 kg
    clock = FakeClock()
    b = belt(clock, start_kg=BW500_TOP_KG - 100)
    clock.advance(15)
    state = b.state()
    assert (state["total_kg"], state["produced_kg"]) == (50, 150)
    total = b.map.totalizer
    assert total is not None
    words = [b.image().registers[total.table][1015 + i] for i in range(2)]
    assert decode(words, total) == Decimal("0.050")


def test_start_beyond_the_modulus_is_refused() -> None:
    with pytest.raises(ValueError, match="range"):
        belt(FakeClock(), start_kg=BW500_TOP_KG)


def test_error_and_parameter_change() -> None:
    b = trip_scale(FakeClock())
    before = list(b.parameters)
    b.inject("error", code=5)
    b.inject("parameter_change", index=1)
    assert b.state()["error_code"] == 5
    assert b.parameters[1] == before[1] + 1
    b.inject("parameter_change", index=0, value=42)
    assert b.parameters[0] == 42
    # a BW500's calibration: a parameter behind the handshake
    bw = belt(FakeClock())
    bw.inject("parameter_change", name="belt_length", value="31.250")
    assert bw.state()["handshake_parameters"]["belt_length"] == Decimal("31.250")


def test_unknown_fault_lists_the_known_ones() -> None:
    with pytest.raises(UnknownFault, match="door_open"):
        belt(FakeClock()).inject("explode")


def trip_scale(clock: FakeClock, *, start_count: int = 0, interval_s: float = 20) -> TripScale:
    return TripScale(
        shipped("trip_indicator"),
        interval_s=interval_s,
        min_kg=8000,
        max_kg=12000,
        start_count=start_count,
        schedule=Schedule(),
        clock_start_s=3600,
        time_factor=1.0,
        seed=2,
        clock=clock,
    )


def test_trips_come_at_their_interval_with_seeded_weights() -> None:
    clock = FakeClock()
    k = trip_scale(clock)
    clock.advance(65)  # trips at 20, 40, 60 s
    state = k.state()
    assert state["trip_count"] == 3
    assert all(8000 <= kg <= 12000 for kg in state["trips_kg"])
    assert state["last_net_kg"] == state["trips_kg"][-1]
    again = FakeClock()
    same = trip_scale(again)
    again.advance(65)
    assert same.state()["trips_kg"] == state["trips_kg"]


def test_trip_burst_advances_the_counter_by_two() -> None:
    clock = FakeClock()
    k = trip_scale(clock)
    k.inject("trip_burst")
    assert k.state()["trip_count"] == 2
    assert len(k.state()["trips_kg"]) == 2


def test_trip_counter_wraps_at_its_modulus() -> None:
    clock = FakeClock()
    k = trip_scale(clock, start_count=2**32 - 1)
    k.inject("trip_burst")
    assert k.state()["trip_count"] == 1
