"""Approved capacity 核定生产能力, plans 产量计划, ratio 产能比 and overproduction 超产.

A is the approved annual capacity in force on a date, less the reductions
核减 applied earlier that year. Daily D = A / 330, monthly M = D × 30, hourly
H = D / 16. A plan for a month, day or hour overrides the capacity as the
denominator of the capacity ratio. Capacities are exact fractions of a tonne.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from coalwatch.domain.periods import Period

DAYS_PER_YEAR = 330
DAYS_PER_MONTH = 30
HOURS_PER_DAY = 16
#: serious overproduction 严重超产: month above 110 % of its plan (M where no plan)
SERIOUS_MONTH_FACTOR = Fraction(11, 10)
#: sustained overproduction: day above 1.1 D, month above 1.1 M
SUSTAINED_FACTOR = Fraction(11, 10)
#: a fault not reported upward in time reduces A by 3 days' capacity per fault day
REDUCTION_DAYS_FACTOR = 3
#: a reduction's states as the pages name them (gettext message ids): pending and
#: confirmed lower A, waived does not
REDUCTION_LABELS: dict[str, str] = {"pending": "待确认", "confirmed": "已核减", "waived": "已免减"}


@dataclass(frozen=True, slots=True)
class CapacityChange:
    """An approved annual capacity A (tonnes) in force from a date."""

    annual_t: Decimal
    effective_from: date


@dataclass(frozen=True, slots=True)
class Reduction:
    """A capacity reduction 核减 (tonnes), lowering A from its date to the end of that year."""

    amount_t: Fraction
    effective_from: date


@dataclass(frozen=True, slots=True)
class Plan:
    """A production plan for one month (tonnes): the month, each day, each hour."""

    month_t: Decimal
    day_t: Decimal | None = None
    hour_t: Decimal | None = None

    def for_period(self, period: Period) -> Decimal | None:
        if period is Period.MONTH:
            return self.month_t
        if period is Period.DAY:
            return self.day_t
        if period is Period.HOUR:
            return self.hour_t
        return None


def approved_annual(changes: Sequence[CapacityChange], day: date) -> Fraction | None:
    """A as approved on ``day``, before reductions; None if none is in force yet.

    ``changes`` is in order of approval: of two with the same date, the later wins.
    """
    latest: CapacityChange | None = None
    for change in changes:
        if change.effective_from <= day and (
            latest is None or change.effective_from >= latest.effective_from
        ):
            latest = change
    return None if latest is None else Fraction(latest.annual_t)


def reduced_annual(
    changes: Sequence[CapacityChange], reductions: Sequence[Reduction], day: date
) -> Fraction | None:
    """A in force on ``day``: the approved value less that year's reductions made by then."""
    return less_reductions(approved_annual(changes, day), reductions, day)


def less_reductions(
    approved: Fraction | None, reductions: Sequence[Reduction], day: date
) -> Fraction | None:
    """``reduced_annual`` from A as approved on ``day``."""
    if approved is None:
        return None
    made = [
        r.amount_t
        for r in reductions
        if r.effective_from.year == day.year and r.effective_from <= day
    ]
    if not made:
        return approved if approved > 0 else Fraction(0)
    return max(approved - sum(made, Fraction(0)), Fraction(0))


def daily_capacity(annual: Fraction) -> Fraction:
    """D = A / 330 日生产能力."""
    return annual / DAYS_PER_YEAR


def monthly_capacity(annual: Fraction) -> Fraction:
    """M = D × 30 月生产能力 (A × 30 / 330 in one step: the same exact value)."""
    return Fraction(annual.numerator * DAYS_PER_MONTH, annual.denominator * DAYS_PER_YEAR)


def hourly_capacity(annual: Fraction) -> Fraction:
    """H = D / 16 时生产能力."""
    return daily_capacity(annual) / HOURS_PER_DAY


def period_capacity(annual: Fraction, period: Period) -> Fraction:
    if period is Period.YEAR:
        return annual
    if period is Period.MONTH:
        return monthly_capacity(annual)
    if period is Period.DAY:
        return daily_capacity(annual)
    return hourly_capacity(annual)


def capacity_ratio(
    raw_t: Fraction | Decimal, plan_t: Decimal | None, capacity_t: Fraction | None
) -> Fraction | None:
    """产能比 = production / (plan, or capacity where no plan); None without a denominator.

    A plan of zero is no plan to compare with: the capacity is used.
    """
    denominator = Fraction(plan_t) if plan_t else capacity_t
    if denominator is None or denominator == 0:
        return None
    return Fraction(raw_t) / denominator


def overproduction(raw_t: Fraction | Decimal, capacity_t: Fraction | None) -> Fraction | None:
    """超产产量: the excess of raw production over the period's capacity, or None."""
    if capacity_t is None:
        return None
    excess = Fraction(raw_t) - capacity_t
    return excess if excess > 0 else None


def serious_overproduction(
    year_raw_t: Fraction | Decimal,
    annual: Fraction,
    month_raw_t: Fraction | Decimal,
    month_plan_t: Decimal | None,
) -> str | None:
    """严重超产: year above A, or month above 110 % of its plan (M where no plan).

    Returns which rule holds ("year" or "month"), or None.
    """
    if Fraction(year_raw_t) > annual:
        return "year"
    month_base = Fraction(month_plan_t) if month_plan_t is not None else monthly_capacity(annual)
    if Fraction(month_raw_t) > SERIOUS_MONTH_FACTOR * month_base:
        return "month"
    return None


def fault_days(occurred: date, recovered: date) -> int:
    """Calendar days of a fault, both the occurrence and the recovery date counted."""
    if recovered < occurred:
        raise ValueError("a fault cannot recover before it occurred")
    return (recovered - occurred).days + 1


def fault_reduction(annual: Fraction, occurred: date, recovered: date) -> Fraction:
    """核减的产量 = (A / 330) × 3 × fault days."""
    return daily_capacity(annual) * REDUCTION_DAYS_FACTOR * fault_days(occurred, recovered)
