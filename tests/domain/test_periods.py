"""Rulebook "Time": calendar periods are in the deployment's zone (Asia/Shanghai, UTC+08:00).

Hour = [hh:00, hh+1:00); day = [00:00, 24:00); month and year likewise. Every
expectation below is written in local wall time, with the UTC instant worked out
by hand in a comment (Shanghai is UTC+8 all year: no daylight saving).
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from coalwatch.domain.periods import (
    Period,
    day_start,
    local_day,
    month_key,
    next_period_start,
    period_days,
    period_start,
    period_starts,
)

TZ = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def test_local_day_is_the_shanghai_date_not_the_utc_date() -> None:
    # 2026-02-28T16:00:00Z + 8 h = 2026-03-01 00:00:00 local: already March 1st in Shanghai
    assert local_day(datetime(2026, 2, 28, 16, 0, 0, tzinfo=UTC), TZ) == date(2026, 3, 1)
    # 2026-02-28T15:59:59Z + 8 h = 2026-02-28 23:59:59 local: still February 28th
    assert local_day(datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC), TZ) == date(2026, 2, 28)


def test_the_same_instant_falls_on_the_day_of_the_deployment_zone() -> None:
    # 2026-02-28T16:00Z is March 1st in Shanghai but still February 28th for a UTC deployment
    instant = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert local_day(instant, TZ) == date(2026, 3, 1)
    assert local_day(instant, UTC) == date(2026, 2, 28)


def test_a_naive_timestamp_is_refused() -> None:
    naive = datetime(2026, 3, 1, 0, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError):
        local_day(naive, TZ)
    with pytest.raises(ValueError):
        period_start(naive, Period.HOUR, TZ)


def test_hour_period_is_hh00_to_next_hh00() -> None:
    sample = local(2026, 3, 1, 10, 37, 12)
    start = period_start(sample, Period.HOUR, TZ)
    assert start.isoformat() == "2026-03-01T10:00:00+08:00"
    assert next_period_start(start, Period.HOUR, TZ).isoformat() == "2026-03-01T11:00:00+08:00"
    # a sample exactly on hh:00 opens that hour
    on_the_hour = period_start(local(2026, 3, 1, 11, 0, 0), Period.HOUR, TZ)
    assert on_the_hour.isoformat() == "2026-03-01T11:00:00+08:00"


def test_hour_boundary_at_local_midnight_with_utc_dates_unchanged() -> None:
    # 23:59:59 local on Feb 28 = 2026-02-28T15:59:59Z; 00:00:00 local on Mar 1 = 2026-02-28T16:00Z.
    # Both instants are on Feb 28 in UTC, but they belong to different local hours and days.
    before = datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC)
    after = datetime(2026, 2, 28, 16, 0, 0, tzinfo=UTC)
    assert period_start(before, Period.HOUR, TZ).isoformat() == "2026-02-28T23:00:00+08:00"
    assert period_start(after, Period.HOUR, TZ).isoformat() == "2026-03-01T00:00:00+08:00"
    # the hour after 23:00 on Feb 28 is 00:00 on Mar 1 (= 2026-02-28T16:00Z)
    last_hour = local(2026, 2, 28, 23)
    assert next_period_start(last_hour, Period.HOUR, TZ) == after


def test_day_boundary_at_local_midnight() -> None:
    # day = [00:00, 24:00) local; local midnight of Mar 1 is 2026-02-28T16:00Z
    before = datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC)  # 23:59:59 local on Feb 28
    after = datetime(2026, 2, 28, 16, 0, 0, tzinfo=UTC)  # 00:00:00 local on Mar 1
    day_before = period_start(before, Period.DAY, TZ)
    day_after = period_start(after, Period.DAY, TZ)
    assert day_before.isoformat() == "2026-02-28T00:00:00+08:00"
    # Feb 28 00:00 local = Feb 27 16:00 UTC: the local day starts on the previous UTC date
    assert day_before == datetime(2026, 2, 27, 16, 0, tzinfo=UTC)
    assert day_after.isoformat() == "2026-03-01T00:00:00+08:00"
    assert day_after == after
    assert next_period_start(day_before, Period.DAY, TZ) == day_after


def test_day_start_is_local_midnight() -> None:
    # local midnight of 2026-03-01 = 2026-02-28T16:00Z
    assert day_start(date(2026, 3, 1), TZ) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)


def test_month_boundary_in_local_time() -> None:
    last_second_of_february = local(2026, 2, 28, 23, 59, 59)  # = 2026-02-28T15:59:59Z
    first_second_of_march = local(2026, 3, 1, 0, 0, 0)  # = 2026-02-28T16:00:00Z
    february = period_start(last_second_of_february, Period.MONTH, TZ)
    assert february.isoformat() == "2026-02-01T00:00:00+08:00"
    # Feb 1 00:00 local = Jan 31 16:00 UTC
    assert february == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    march = period_start(first_second_of_march, Period.MONTH, TZ)
    assert march.isoformat() == "2026-03-01T00:00:00+08:00"
    assert next_period_start(february, Period.MONTH, TZ) == march


def test_year_boundary_dec_31_to_jan_1() -> None:
    # 2026-12-31 23:59:59 local = 2026-12-31T15:59:59Z; 2027-01-01 00:00 local = 2026-12-31T16:00Z:
    # both instants are in UTC year 2026, yet the second is local year 2027.
    last = datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)
    first = datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC)
    assert local_day(last, TZ) == date(2026, 12, 31)
    assert local_day(first, TZ) == date(2027, 1, 1)
    for period, last_start, first_start in [
        (Period.HOUR, "2026-12-31T23:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        (Period.DAY, "2026-12-31T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        (Period.MONTH, "2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        (Period.YEAR, "2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
    ]:
        assert period_start(last, period, TZ).isoformat() == last_start
        assert period_start(first, period, TZ).isoformat() == first_start
        # the period after the one holding Dec 31 23:59:59 starts at Jan 1 00:00 local
        assert next_period_start(period_start(last, period, TZ), period, TZ) == first


def test_current_period_production_starts_at_the_start_of_the_period() -> None:
    # 当时/当天/当月/当年产量 at 2026-03-01 00:20 local run from these starts until now
    now = local(2026, 3, 1, 0, 20)
    assert period_start(now, Period.HOUR, TZ).isoformat() == "2026-03-01T00:00:00+08:00"
    assert period_start(now, Period.DAY, TZ).isoformat() == "2026-03-01T00:00:00+08:00"
    assert period_start(now, Period.MONTH, TZ).isoformat() == "2026-03-01T00:00:00+08:00"
    assert period_start(now, Period.YEAR, TZ).isoformat() == "2026-01-01T00:00:00+08:00"


def test_period_starts_lists_every_hour_overlapping_the_range() -> None:
    # [Feb 28 22:30, Mar 1 01:00) local overlaps the hours 22:00, 23:00 and 00:00; 01:00 is excluded
    starts = list(period_starts(local(2026, 2, 28, 22, 30), local(2026, 3, 1, 1), Period.HOUR, TZ))
    assert [s.isoformat() for s in starts] == [
        "2026-02-28T22:00:00+08:00",
        "2026-02-28T23:00:00+08:00",
        "2026-03-01T00:00:00+08:00",
    ]


def test_period_starts_of_a_range_given_in_utc_are_local_days() -> None:
    # [2026-02-27T04:00Z, 2026-03-01T16:00Z) = [Feb 27 12:00, Mar 2 00:00) local: days 27, 28, 1
    start = datetime(2026, 2, 27, 4, 0, tzinfo=UTC)
    end = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    starts = list(period_starts(start, end, Period.DAY, TZ))
    assert [s.isoformat() for s in starts] == [
        "2026-02-27T00:00:00+08:00",
        "2026-02-28T00:00:00+08:00",
        "2026-03-01T00:00:00+08:00",
    ]


def test_period_starts_over_months_and_years_cross_the_year_end() -> None:
    months = list(period_starts(local(2025, 11, 15), local(2026, 2, 1), Period.MONTH, TZ))
    assert [s.isoformat() for s in months] == [
        "2025-11-01T00:00:00+08:00",
        "2025-12-01T00:00:00+08:00",
        "2026-01-01T00:00:00+08:00",
    ]
    years = list(period_starts(local(2025, 6, 1), local(2027, 1, 1, 0, 0, 1), Period.YEAR, TZ))
    assert [s.isoformat() for s in years] == [
        "2025-01-01T00:00:00+08:00",
        "2026-01-01T00:00:00+08:00",
        "2027-01-01T00:00:00+08:00",
    ]


def test_a_day_has_24_hours() -> None:
    hours = list(period_starts(local(2026, 3, 1), local(2026, 3, 2), Period.HOUR, TZ))
    assert len(hours) == 24
    assert hours[0].isoformat() == "2026-03-01T00:00:00+08:00"
    assert hours[-1].isoformat() == "2026-03-01T23:00:00+08:00"


def test_period_days_are_the_calendar_days_of_the_period() -> None:
    # February 2026 has 28 days, February 2028 (leap year) 29
    assert period_days(local(2026, 2, 1), Period.MONTH, TZ) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_days(local(2028, 2, 1), Period.MONTH, TZ) == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_days(local(2026, 1, 1), Period.YEAR, TZ) == (date(2026, 1, 1), date(2026, 12, 31))
    assert period_days(local(2026, 3, 1), Period.DAY, TZ) == (date(2026, 3, 1), date(2026, 3, 1))
    with pytest.raises(ValueError):
        period_days(local(2026, 3, 1, 10), Period.HOUR, TZ)


def test_month_key_is_the_first_of_the_month() -> None:
    assert month_key(date(2026, 2, 28)) == date(2026, 2, 1)
    assert month_key(date(2026, 12, 31)) == date(2026, 12, 1)
