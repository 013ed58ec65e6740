"""Calendar periods in a time zone.

All periods are local to the deployment's (or the mine's) time zone, default
Asia/Shanghai: hour = [hh:00, hh+1:00), day = [00:00, 24:00), month and year
likewise. 当时/当天/当月/当年产量 is production from the start of the current
hour / day / month / year until now.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


def _require_aware(ts: datetime) -> None:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"naive datetime {ts.isoformat()}: a time zone is required")


def local_day(ts: datetime, tz: tzinfo) -> date:
    """The calendar date of an instant in the given zone."""
    _require_aware(ts)
    return ts.astimezone(tz).date()


def day_start(day: date, tz: tzinfo) -> datetime:
    """Local midnight of a date, as an aware datetime in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz)


def period_start(ts: datetime, period: Period, tz: tzinfo) -> datetime:
    """Start of the period that contains ``ts``, as an aware datetime in ``tz``."""
    _require_aware(ts)
    local = ts.astimezone(tz)
    if period is Period.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    if period is Period.DAY:
        return day_start(local.date(), tz)
    if period is Period.MONTH:
        return day_start(local.date().replace(day=1), tz)
    return day_start(date(local.year, 1, 1), tz)


def next_period_start(start: datetime, period: Period, tz: tzinfo) -> datetime:
    """Start of the period after the one that starts at ``start``."""
    _require_aware(start)
    if period is Period.HOUR:
        return (start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)
    local = start.astimezone(tz).date()
    if period is Period.DAY:
        return day_start(local + timedelta(days=1), tz)
    if period is Period.MONTH:
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return day_start(date(year, month, 1), tz)
    return day_start(date(local.year + 1, 1, 1), tz)


def period_starts(start: datetime, end: datetime, period: Period, tz: tzinfo) -> Iterator[datetime]:
    """Starts of every period that overlaps [start, end)."""
    if end <= start:
        return
    current = period_start(start, period, tz)
    while current < end:
        yield current
        current = next_period_start(current, period, tz)


def period_days(start: datetime, period: Period, tz: tzinfo) -> tuple[date, date]:
    """First and last calendar day of a day, month or year period (inclusive)."""
    if period is Period.HOUR:
        raise ValueError("an hour has no whole days")
    first = start.astimezone(tz).date()
    last = next_period_start(start, period, tz).astimezone(tz).date() - timedelta(days=1)
    return first, last


def month_key(day: date) -> date:
    """The first day of the month that contains ``day`` (the key of monthly plans)."""
    return day.replace(day=1)
