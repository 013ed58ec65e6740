"""Rulebook "Production accounting": belt-scale totalizers and trip conveyances.

Readings are kept in integer kilograms (the totalizer T in tonnes has 3 decimals).
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from coalwatch.domain.accounting import (
    Increment,
    IncrementKind,
    totalizer_increment,
    totalizer_increments,
    trip_production,
)
from coalwatch.domain.periods import Period, period_start
from coalwatch.domain.units import kg_to_tonnes, tonnes_to_kg

TZ = ZoneInfo("Asia/Shanghai")
#: a totalizer that wraps at R = 10,000 t = 10,000,000 kg (R/2 = 5,000,000 kg)
R_KG = 10_000_000


def test_normal_increment_is_new_minus_old() -> None:
    # T_old = 1,234.567 t, T_new = 1,235.004 t → 1,235.004 − 1,234.567 = 0.437 t = 437 kg
    inc = totalizer_increment(1_234_567, 1_235_004, R_KG)
    assert inc == Increment(437, IncrementKind.NORMAL)


def test_unchanged_totalizer_produced_nothing() -> None:
    assert totalizer_increment(1_234_567, 1_234_567, R_KG) == Increment(0, IncrementKind.NORMAL)


def test_first_sample_is_a_baseline_with_no_production() -> None:
    # nothing to compare with: the first reading (5,000 t) only sets the baseline
    assert totalizer_increment(None, 5_000_000, R_KG) == Increment(0, IncrementKind.BASELINE)
    assert totalizer_increment(None, 5_000_000, None) == Increment(0, IncrementKind.BASELINE)


def test_rollover_increment_counts_wrap() -> None:
    # T_old = 9,999.800 t, T_new = 0.350 t, R = 10,000 t; drop 9,999.450 t > R/2 = 5,000 t
    # → rollover: R − T_old + T_new = 10,000 − 9,999.800 + 0.350 = 0.550 t = 550 kg
    inc = totalizer_increment(9_999_800, 350, R_KG)
    assert inc == Increment(550, IncrementKind.ROLLOVER)


def test_rollover_when_drop_is_just_over_half_of_r() -> None:
    # T_old = 6,000.001 t, T_new = 1,000.000 t: drop 5,000.001 t > R/2 = 5,000 t
    # → R − T_old + T_new = 10,000 − 6,000.001 + 1,000 = 4,999.999 t = 4,999,999 kg
    inc = totalizer_increment(6_000_001, 1_000_000, R_KG)
    assert inc == Increment(4_999_999, IncrementKind.ROLLOVER)


def test_drop_of_exactly_half_r_is_a_reset() -> None:
    # T_old = 6,000 t, T_new = 1,000 t: drop 5,000 t = R/2, not > R/2 → reset, increment = T_new
    inc = totalizer_increment(6_000_000, 1_000_000, R_KG)
    assert inc == Increment(1_000_000, IncrementKind.RESET)


def test_small_drop_with_rollover_value_is_a_reset() -> None:
    # T_old = 8,000 t, T_new = 7,999 t: drop 1 t ≤ R/2 → reset, increment = T_new = 7,999 t
    inc = totalizer_increment(8_000_000, 7_999_000, R_KG)
    assert inc == Increment(7_999_000, IncrementKind.RESET)


def test_drop_without_rollover_value_is_a_reset() -> None:
    # no R: any decrease is a reset, increment = T_new = 0.350 t
    inc = totalizer_increment(9_999_800, 350, None)
    assert inc == Increment(350, IncrementKind.RESET)


def test_reset_to_zero_produced_nothing() -> None:
    # a totalizer cleared to 0 without R: increment = T_new = 0
    assert totalizer_increment(52_000, 0, None) == Increment(0, IncrementKind.RESET)


def test_negative_totalizer_reading_is_refused() -> None:
    with pytest.raises(ValueError):
        totalizer_increment(1_000, -1, R_KG)


def test_stream_of_readings_gives_each_increment_in_order() -> None:
    # no R: 100 (baseline), 250 (+150), 250 (+0), 40 (reset: +40), 90 (+50) → 240 kg in all
    incs = list(totalizer_increments([100, 250, 250, 40, 90], None))
    assert incs == [
        Increment(0, IncrementKind.BASELINE),
        Increment(150, IncrementKind.NORMAL),
        Increment(0, IncrementKind.NORMAL),
        Increment(40, IncrementKind.RESET),
        Increment(50, IncrementKind.NORMAL),
    ]
    assert sum(i.kg for i in incs) == 240


def test_stream_continues_from_the_previous_reading() -> None:
    # previous T = 9,999.900 t, R = 10,000 t: 9,999.950 (+50 kg), 0.020 (rollover:
    # 10,000 − 9,999.950 + 0.020 = 0.070 t = 70 kg), 0.120 (+100 kg) → 220 kg
    incs = list(totalizer_increments([9_999_950, 20, 120], R_KG, previous_kg=9_999_900))
    assert incs == [
        Increment(50, IncrementKind.NORMAL),
        Increment(70, IncrementKind.ROLLOVER),
        Increment(100, IncrementKind.NORMAL),
    ]


def test_increment_is_attributed_to_the_period_of_the_later_sample() -> None:
    # samples at 09:59:58 (T = 100.000 t) and 10:00:03 (T = 100.040 t): the 40 kg between
    # them count in the 10:00 hour, the hour of the later sample
    samples = [
        (datetime(2026, 3, 1, 9, 59, 58, tzinfo=TZ), 100_000),
        (datetime(2026, 3, 1, 10, 0, 3, tzinfo=TZ), 100_040),
    ]
    incs = totalizer_increments([kg for _, kg in samples], None)
    per_hour: dict[str, int] = {}
    for (ts, _), inc in zip(samples, incs, strict=True):
        key = period_start(ts, Period.HOUR, TZ).isoformat()
        per_hour[key] = per_hour.get(key, 0) + inc.kg
    assert per_hour == {"2026-03-01T09:00:00+08:00": 0, "2026-03-01T10:00:00+08:00": 40}


def test_trip_production_is_the_sum_of_trip_net_weights() -> None:
    # three truck trips of 18.240 t, 17.955 t and 18.010 t → 54.205 t
    trips = [tonnes_to_kg(t) for t in ("18.240", "17.955", "18.010")]
    total_kg = sum(trip_production(kg) for kg in trips)
    assert total_kg == 54_205
    assert kg_to_tonnes(total_kg) == Decimal("54.205")


def test_trip_with_negative_net_weight_is_refused() -> None:
    with pytest.raises(ValueError):
        trip_production(-1)


def test_an_increment_is_suspect_beyond_what_the_flows_carry() -> None:
    from datetime import timedelta

    from coalwatch.domain.accounting import (
        Increment,
        IncrementKind,
        SuspectReason,
        implausible,
    )

    two_s = timedelta(seconds=2)
    # 3 t in 2 s with no maximum flow: at most the hourly limit over an hour,
    # 200,000,000 × (3,600 + 2) / 3,600 × 1.5 + 1,000 kg; at 450 t/h: 450,000 × 4 / 3,600 × 1.5 =
    # 750 + 1,000 = 1,750 kg
    three_t = Increment(3000, IncrementKind.NORMAL)
    found = implausible(three_t, two_s, None, (450_000, 0))
    assert found is not None and (found.reason, found.limit_kg) == (SuspectReason.FLOW_RATE, 1750)
    # flows of 0 at both readings say nothing: the maximum flow alone judges
    assert implausible(three_t, two_s, None, (0, 0)) is None
    assert implausible(three_t, two_s, None) is None
    # a maximum flow of 1,000 t/h: 1,000,000 × 4 / 3,600 × 1.5 = 1,666.67 → 1,667 + 1,000
    found = implausible(three_t, two_s, 1_000_000)
    assert found is not None and (found.reason, found.limit_kg) == (SuspectReason.MAX_FLOW, 2667)
    # a baseline never is
    assert implausible(Increment(0, IncrementKind.BASELINE), two_s, 1) is None
