"""Rulebook "Capacity and plans", the overproduction alarms, and capacity reduction 核减.

D = A / 330, M = D × 30, H = D / 16; a plan overrides the capacity as the denominator
of the capacity ratio; a fault not reported within 2 h reduces A by
(A / 330) × 3 × fault days for the rest of that year.
"""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from coalwatch.domain.capacity import (
    CapacityChange,
    Plan,
    Reduction,
    approved_annual,
    capacity_ratio,
    daily_capacity,
    fault_days,
    fault_reduction,
    hourly_capacity,
    monthly_capacity,
    overproduction,
    period_capacity,
    reduced_annual,
    serious_overproduction,
)
from coalwatch.domain.coefficients import raw_tonnes
from coalwatch.domain.periods import Period
from coalwatch.domain.units import round_tonnes

A_330K = Fraction(330_000)


# --- capacities -----------------------------------------------------------------------


def test_capacities_of_330000_t_a_year() -> None:
    # A = 330,000 t → D = 330,000 / 330 = 1,000 t, M = 1,000 × 30 = 30,000 t,
    # H = 1,000 / 16 = 62.5 t
    assert daily_capacity(A_330K) == 1_000
    assert monthly_capacity(A_330K) == 30_000
    assert hourly_capacity(A_330K) == Fraction(125, 2)  # 62.5


def test_capacities_of_660000_t_a_year() -> None:
    # A = 660,000 t → D = 2,000 t, M = 60,000 t, H = 2,000 / 16 = 125 t
    a = Fraction(660_000)
    assert daily_capacity(a) == 2_000
    assert monthly_capacity(a) == 60_000
    assert hourly_capacity(a) == 125


def test_capacities_are_exact_fractions() -> None:
    # A = 1,200,000 t → D = 1,200,000 / 330 = 40,000/11 = 3,636.3636… t,
    # M = 40,000/11 × 30 = 1,200,000/11 = 109,090.9090… t, H = 40,000/176 = 2,500/11 = 227.27… t
    a = Fraction(1_200_000)
    assert daily_capacity(a) == Fraction(40_000, 11)
    assert monthly_capacity(a) == Fraction(1_200_000, 11)
    assert hourly_capacity(a) == Fraction(2_500, 11)
    assert round_tonnes(daily_capacity(a)) == Decimal("3636.364")
    assert round_tonnes(monthly_capacity(a)) == Decimal("109090.909")
    assert round_tonnes(hourly_capacity(a)) == Decimal("227.273")


def test_period_capacity_is_h_d_m_or_a() -> None:
    assert period_capacity(A_330K, Period.HOUR) == Fraction(125, 2)
    assert period_capacity(A_330K, Period.DAY) == 1_000
    assert period_capacity(A_330K, Period.MONTH) == 30_000
    assert period_capacity(A_330K, Period.YEAR) == 330_000


def test_capacity_change_effective_mid_year() -> None:
    # A = 330,000 t from 2025-01-01, raised to 660,000 t from 2026-07-01
    changes = [
        CapacityChange(Decimal("330000"), date(2025, 1, 1)),
        CapacityChange(Decimal("660000"), date(2026, 7, 1)),
    ]
    assert approved_annual(changes, date(2024, 12, 31)) is None  # nothing approved yet
    assert approved_annual(changes, date(2025, 1, 1)) == 330_000
    assert approved_annual(changes, date(2026, 6, 30)) == 330_000
    assert approved_annual(changes, date(2026, 7, 1)) == 660_000
    # the order in which the changes are listed does not matter, only their dates
    assert approved_annual(list(reversed(changes)), date(2026, 6, 30)) == 330_000
    # D follows the value in force: 1,000 t on Jun 30, 2,000 t on Jul 1
    jun30 = approved_annual(changes, date(2026, 6, 30))
    jul1 = approved_annual(changes, date(2026, 7, 1))
    assert jun30 is not None and daily_capacity(jun30) == 1_000
    assert jul1 is not None and daily_capacity(jul1) == 2_000


# --- plans and capacity ratio 产能比 --------------------------------------------------------


def test_plan_for_each_period() -> None:
    plan = Plan(month_t=Decimal("25000"), day_t=Decimal("850"), hour_t=Decimal("55"))
    assert plan.for_period(Period.MONTH) == Decimal("25000")
    assert plan.for_period(Period.DAY) == Decimal("850")
    assert plan.for_period(Period.HOUR) == Decimal("55")
    assert plan.for_period(Period.YEAR) is None
    assert Plan(month_t=Decimal("25000")).for_period(Period.DAY) is None


def test_capacity_ratio_without_plan_uses_capacity() -> None:
    # 800 t raw in a day, A = 330,000 → D = 1,000 t: ratio = 800 / 1,000 = 0.8 (80 %)
    assert capacity_ratio(Decimal("800"), None, daily_capacity(A_330K)) == Fraction(4, 5)


def test_capacity_ratio_with_plan_overrides_capacity() -> None:
    # 800 t raw in a day with a day plan of 1,250 t: ratio = 800 / 1,250 = 0.64 (64 %),
    # not 800 / D = 0.8
    ratio = capacity_ratio(Decimal("800"), Decimal("1250"), daily_capacity(A_330K))
    assert ratio == Fraction(16, 25)


def test_capacity_ratio_without_any_denominator_is_none() -> None:
    assert capacity_ratio(Decimal("800"), None, None) is None


# --- overproduction 超产 -------------------------------------------------------------------


def test_overproduction_hour_records_the_excess() -> None:
    # A = 330,000 → H = 62.5 t; 66.5 t raw in one hour → excess 66.5 − 62.5 = 4.0 t
    assert overproduction(Decimal("66.5"), hourly_capacity(A_330K)) == 4


def test_production_exactly_at_capacity_is_not_overproduction() -> None:
    # raw = H = 62.5 t: not > H
    assert overproduction(Decimal("62.5"), hourly_capacity(A_330K)) is None
    # one more kilogram is: 62.501 − 62.5 = 0.001 t
    assert overproduction(Decimal("62.501"), hourly_capacity(A_330K)) == Fraction(1, 1000)


def test_overproduction_day_month_year() -> None:
    # D = 1,000 t: 1,000.001 t → 0.001 t; M = 30,000 t: 31,234.5 t → 1,234.5 t;
    # A = 330,000 t: 330,000 t exactly → none
    assert overproduction(Decimal("1000.001"), daily_capacity(A_330K)) == Fraction(1, 1000)
    assert overproduction(Decimal("31234.5"), monthly_capacity(A_330K)) == Fraction(2469, 2)
    assert overproduction(Decimal("330000"), A_330K) is None


def test_overproduction_compares_raw_coal_not_gross() -> None:
    # H = 62.5 t. Gross 65 t at k = 4.5 %: raw = 65 × 0.955 = 62.075 t ≤ H → no overproduction
    assert (
        overproduction(raw_tonnes(Decimal("65"), Decimal("4.5")), hourly_capacity(A_330K)) is None
    )
    # gross 69.5 t at 4.5 %: raw = 69.5 × 0.955 = 66.3725 t → excess 66.3725 − 62.5 = 3.8725 t
    raw = raw_tonnes(Decimal("69.5"), Decimal("4.5"))
    assert raw == Decimal("66.3725")
    assert overproduction(raw, hourly_capacity(A_330K)) == Fraction(Decimal("3.8725"))


def test_no_capacity_means_no_overproduction() -> None:
    assert overproduction(Decimal("1000000"), None) is None


# --- serious overproduction 严重超产 ----------------------------------------------------------


def test_serious_overproduction_by_the_annual_rule() -> None:
    # year raw 330,000.001 t > A = 330,000 t → serious, whatever the month
    assert serious_overproduction(Decimal("330000.001"), A_330K, Decimal("0"), None) == "year"
    # exactly A is not
    assert serious_overproduction(Decimal("330000"), A_330K, Decimal("20000"), None) is None


def test_serious_overproduction_by_the_monthly_rule_with_a_plan() -> None:
    # month plan 25,000 t → 110 % = 27,500 t
    plan = Decimal("25000")
    year = Decimal("100000")
    assert serious_overproduction(year, A_330K, Decimal("27500"), plan) is None  # exactly 110 %
    assert serious_overproduction(year, A_330K, Decimal("27500.001"), plan) == "month"
    # 28,000 t is below 110 % of M (33,000 t) but above 110 % of the plan: the plan decides
    assert serious_overproduction(year, A_330K, Decimal("28000"), plan) == "month"
    # a plan above M: 110 % × 40,000 = 44,000 t; 35,000 t exceeds 110 % of M but not of the plan
    assert serious_overproduction(year, A_330K, Decimal("35000"), Decimal("40000")) is None


def test_serious_overproduction_by_the_monthly_rule_with_m_where_no_plan() -> None:
    # no plan: M = 30,000 t → 110 % = 33,000 t
    year = Decimal("100000")
    assert serious_overproduction(year, A_330K, Decimal("33000"), None) is None  # exactly 110 %
    assert serious_overproduction(year, A_330K, Decimal("33000.001"), None) == "month"
    # over M (an ordinary overproduction_month) but not over 110 % of M
    assert serious_overproduction(year, A_330K, Decimal("32000"), None) is None


# --- faults and capacity reduction 核减 -------------------------------------------------------


def test_fault_days_count_both_ends() -> None:
    # occurred and recovered the same day: 1 fault day
    assert fault_days(date(2026, 5, 10), date(2026, 5, 10)) == 1
    # Jan 30, Jan 31, Feb 1, Feb 2: 4 fault days across the month boundary
    assert fault_days(date(2026, 1, 30), date(2026, 2, 2)) == 4
    # leap year: Feb 28, Feb 29, Mar 1 2028 → 3
    assert fault_days(date(2028, 2, 28), date(2028, 3, 1)) == 3
    # Dec 31 → Jan 1: 2
    assert fault_days(date(2026, 12, 31), date(2027, 1, 1)) == 2


def test_fault_cannot_recover_before_it_occurred() -> None:
    with pytest.raises(ValueError):
        fault_days(date(2026, 2, 2), date(2026, 1, 30))


def test_capacity_reduction_for_a_fault_spanning_a_month_boundary() -> None:
    # fault 2026-01-30 → 2026-02-02 = 4 fault days; A = 330,000 → D = 1,000 t
    # reduction = (A / 330) × 3 × fault days = 1,000 × 3 × 4 = 12,000 t
    assert fault_reduction(A_330K, date(2026, 1, 30), date(2026, 2, 2)) == 12_000


def test_capacity_reduction_is_exact_for_any_a() -> None:
    # A = 1,200,000 t → D = 40,000/11 t; 2 fault days → 40,000/11 × 3 × 2 = 240,000/11 t
    # = 21,818.1818… t
    reduction = fault_reduction(Fraction(1_200_000), date(2026, 3, 1), date(2026, 3, 2))
    assert reduction == Fraction(240_000, 11)
    assert round_tonnes(reduction) == Decimal("21818.182")


def test_reduced_capacity_holds_from_its_date_to_year_end_only() -> None:
    # A = 330,000 t; the 12,000 t reduction applies from 2026-02-03
    changes = [CapacityChange(Decimal("330000"), date(2020, 1, 1))]
    reductions = [Reduction(Fraction(12_000), date(2026, 2, 3))]
    assert reduced_annual(changes, reductions, date(2026, 2, 2)) == 330_000  # before its date
    assert reduced_annual(changes, reductions, date(2026, 2, 3)) == 318_000  # 330,000 − 12,000
    assert reduced_annual(changes, reductions, date(2026, 12, 31)) == 318_000
    assert reduced_annual(changes, reductions, date(2027, 1, 1)) == 330_000  # next year: whole A


def test_capacities_follow_the_reduced_a() -> None:
    # reduced A = 318,000 t → D = 318,000 / 330 = 10,600/11 = 963.636… t,
    # M = 10,600/11 × 30 = 318,000/11 = 28,909.0909… t, H = 10,600/176 = 1,325/22 = 60.227… t
    changes = [CapacityChange(Decimal("330000"), date(2020, 1, 1))]
    reductions = [Reduction(Fraction(12_000), date(2026, 2, 3))]
    a = reduced_annual(changes, reductions, date(2026, 3, 1))
    assert a == 318_000
    assert daily_capacity(a) == Fraction(10_600, 11)
    assert monthly_capacity(a) == Fraction(318_000, 11)
    assert hourly_capacity(a) == Fraction(1_325, 22)
    assert round_tonnes(hourly_capacity(a)) == Decimal("60.227")
    # the approved value is still there to show beside it
    assert approved_annual(changes, date(2026, 3, 1)) == 330_000


def test_reductions_of_a_year_add_up() -> None:
    # 12,000 t from Feb 3 and 3,000 t from Sep 1: 330,000 − 12,000 − 3,000 = 315,000 t from Sep 1
    changes = [CapacityChange(Decimal("330000"), date(2020, 1, 1))]
    reductions = [
        Reduction(Fraction(12_000), date(2026, 2, 3)),
        Reduction(Fraction(3_000), date(2026, 9, 1)),
    ]
    assert reduced_annual(changes, reductions, date(2026, 8, 31)) == 318_000
    assert reduced_annual(changes, reductions, date(2026, 9, 1)) == 315_000
    assert reduced_annual(changes, reductions, date(2027, 6, 1)) == 330_000


def test_reduced_capacity_without_approved_capacity_is_none() -> None:
    reductions = [Reduction(Fraction(12_000), date(2026, 2, 3))]
    assert reduced_annual([], reductions, date(2026, 3, 1)) is None
