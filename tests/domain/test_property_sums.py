"""Rulebook "Production accounting": sums are exact to 1 kg, across periods and a whole year.

The streams are generated from their true increments, so the expected figures are
known before the program sees the readings: readings = (T0 + cumulative sum) mod R.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from coalwatch.domain.accounting import IncrementKind, totalizer_increments
from coalwatch.domain.coefficients import raw_units
from coalwatch.domain.periods import Period, local_day, period_start
from coalwatch.domain.units import kg_to_tonnes, raw_units_to_tonnes, round_tonnes

TZ = ZoneInfo("Asia/Shanghai")
#: Shanghai has kept UTC+08:00 all year since 1991: the oracle below buckets local hours
#: and days by integer arithmetic on epoch seconds + 8 h
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@st.composite
def totalizer_streams(draw: st.DrawFn) -> tuple[int | None, int, list[int], list[datetime]]:
    """(R or None, first reading T0, true increments in kg, sample times after T0's).

    With R, each true increment is < R/2, so a wrap is a drop of more than R/2
    (a rollover), never mistaken for a reset.
    """
    rollover = draw(st.one_of(st.none(), st.integers(min_value=1_000, max_value=5_000_000)))
    if rollover is None:
        first = draw(st.integers(min_value=0, max_value=10**9))
        max_increment = 60_000
    else:
        first = draw(st.integers(min_value=0, max_value=rollover - 1))
        max_increment = (rollover - 1) // 2
    n = draw(st.integers(min_value=1, max_value=120))
    increments = draw(
        st.lists(st.integers(min_value=0, max_value=max_increment), min_size=n, max_size=n)
    )
    gaps = draw(
        st.lists(
            st.one_of(
                st.integers(min_value=1, max_value=120), st.integers(min_value=1, max_value=10_800)
            ),
            min_size=n + 1,
            max_size=n + 1,
        )
    )
    # somewhere in 2025–2027, so that day, month and year ends come up
    start = EPOCH + timedelta(seconds=draw(st.integers(min_value=0, max_value=3 * 365 * 86_400)))
    times = []
    t = start
    for gap in gaps:
        t += timedelta(seconds=gap)
        times.append(t)
    return rollover, first, increments, times


@settings(max_examples=200, deadline=None, database=None)
@given(totalizer_streams())
def test_hourly_figures_add_up_to_daily_and_daily_to_the_total(
    stream: tuple[int | None, int, list[int], list[datetime]],
) -> None:
    rollover, first, increments, times = stream
    # readings: T0, then T0 + cumulative sum, wrapped at R when there is one
    readings = [first]
    running = first
    for inc in increments:
        running += inc
        readings.append(running % rollover if rollover is not None else running)

    recovered = list(totalizer_increments(readings, rollover))

    # the first sample is the baseline; after it, exactly the generated increments come back,
    # as a rollover where the cumulative reading passed a multiple of R, normal otherwise
    assert recovered[0].kind is IncrementKind.BASELINE and recovered[0].kg == 0
    assert [i.kg for i in recovered[1:]] == increments
    for old, inc, got in zip(readings[:-1], increments, recovered[1:], strict=True):
        wraps = rollover is not None and old + inc >= rollover
        assert got.kind is (IncrementKind.ROLLOVER if wraps else IncrementKind.NORMAL)

    # the program's side: each recovered increment in the hour / day / month the program's
    # period functions give its own (the later) sample
    hourly: dict[datetime, int] = defaultdict(int)
    daily: dict[date, int] = defaultdict(int)
    monthly: dict[tuple[int, int], int] = defaultdict(int)
    for ts, inc in zip(times, recovered, strict=True):
        hourly[period_start(ts, Period.HOUR, TZ)] += inc.kg
        day = local_day(ts, TZ)
        daily[day] += inc.kg
        monthly[(day.year, day.month)] += inc.kg
    # the oracle: the generated increments (never the recovered ones), bucketed with integer
    # arithmetic on epoch seconds at UTC+8 (the first sample is the baseline: nothing)
    hour_oracle: dict[int, int] = defaultdict(int)
    day_oracle: dict[date, int] = defaultdict(int)
    month_oracle: dict[tuple[int, int], int] = defaultdict(int)
    for ts, inc in zip(times[1:], increments, strict=True):
        local_s = int(ts.timestamp()) + 8 * 3600
        hour_oracle[local_s // 3600] += inc
        day = date(1970, 1, 1) + timedelta(days=local_s // 86_400)
        day_oracle[day] += inc
        month_oracle[(day.year, day.month)] += inc

    def hour_number(hour: datetime) -> int:
        assert (hour.minute, hour.second, hour.microsecond) == (0, 0, 0)
        return (int(hour.timestamp()) + 8 * 3600) // 3600

    assert {hour_number(h): kg for h, kg in hourly.items() if kg} == {
        h: kg for h, kg in hour_oracle.items() if kg
    }
    assert {d: kg for d, kg in daily.items() if kg} == {d: kg for d, kg in day_oracle.items() if kg}
    assert {m: kg for m, kg in monthly.items() if kg} == {
        m: kg for m, kg in month_oracle.items() if kg
    }
    expected_total = sum(increments)
    # and the readings agree: total = T_last − T0 + (number of wraps) × R
    if rollover is not None:
        wraps = (first + expected_total) // rollover
        assert expected_total == readings[-1] - first + wraps * rollover
    else:
        assert expected_total == readings[-1] - first


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=48),
    st.integers(min_value=0, max_value=9_999),
)
def test_raw_coal_of_a_day_is_the_sum_of_its_hours(hourly_kg: list[int], hundredths: int) -> None:
    # raw = gross × (10,000 − k) / 10,000 is linear and kept in integers: no drift, and the day's
    # shown figure is the rounding of the exact sum of its hours
    day_units = raw_units(sum(hourly_kg), hundredths)
    assert sum(raw_units(kg, hundredths) for kg in hourly_kg) == day_units
    assert day_units == sum(hourly_kg) * (10_000 - hundredths)
    # shown half-up to 1 kg: (units + 5,000) // 10,000 kg, in integers
    assert round_tonnes(raw_units_to_tonnes(day_units)) == kg_to_tonnes(
        (day_units + 5_000) // 10_000
    )


def test_a_year_of_5_second_samples_sums_exactly() -> None:
    # One 5-second sample of +0.137 t (137 kg) every 5 s. A day has 86,400 / 5 = 17,280 samples,
    # a 365-day year 365 × 17,280 = 6,307,200 samples.
    # R = 1,000 t = 1,000,000 kg, the day starts at T = 999.000 t (the previous day's last sample
    # at 23:59:55): 999,000 + 2,367,360 = 3,366,360 kg, so the totalizer wraps 3 times that day.
    rollover = 1_000_000
    start_kg = 999_000
    day = datetime(2026, 3, 1, tzinfo=TZ)
    samples = 86_400 // 5
    assert samples == 17_280
    times = [day + timedelta(seconds=5 * i) for i in range(samples)]  # 00:00:00 … 23:59:55
    readings = [(start_kg + 137 * (i + 1)) % rollover for i in range(samples)]

    hourly: dict[datetime, int] = defaultdict(int)
    rollovers = 0
    for ts, inc in zip(times, totalizer_increments(readings, rollover, start_kg), strict=True):
        hourly[period_start(ts, Period.HOUR, TZ)] += inc.kg
        rollovers += inc.kind is IncrementKind.ROLLOVER
    # each hour: 3,600 / 5 = 720 samples × 137 kg = 98,640 kg; 24 hours → 2,367,360 kg
    assert rollovers == 3
    assert len(hourly) == 24
    assert set(hourly.values()) == {98_640}
    day_kg = sum(hourly.values())
    assert day_kg == 17_280 * 137 == 2_367_360

    # the year is the sum of 365 exact day totals: 365 × 2,367,360 = 864,086,400 kg
    # = 137 × 6,307,200 kg = 864,086.400 t, with no drift at all
    year_kg = sum(day_kg for _ in range(365))
    assert year_kg == 137 * 6_307_200 == 864_086_400
    assert kg_to_tonnes(year_kg) == Decimal("864086.400")
    assert str(kg_to_tonnes(year_kg)) == "864086.400"
