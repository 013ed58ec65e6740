"""Shifts, ten-day periods, quarters, signing order, and the calibration formulas."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from coalwatch.domain.calibration import Run, due_date, error_percent, new_interval_value
from coalwatch.domain.reports import (
    DEFAULT_SHIFTS,
    Shift,
    Signer,
    check_shifts,
    dekad,
    next_signer,
    quarter,
    shift_of,
)


def test_default_shifts_are_three_of_eight_hours() -> None:
    check_shifts(DEFAULT_SHIFTS)
    assert [shift_of(h).name for h in (0, 7, 8, 15, 16, 23)] == [
        "夜班",
        "夜班",
        "早班",
        "早班",
        "中班",
        "中班",
    ]


def test_shifts_that_overlap_or_leave_a_gap_are_refused() -> None:
    with pytest.raises(ValueError, match="missing \\[23\\]"):
        check_shifts([Shift("a", 0, 12), Shift("b", 12, 11)])
    with pytest.raises(ValueError, match="twice"):
        check_shifts([Shift("a", 0, 13), Shift("b", 12, 12)])
    check_shifts([Shift("白班", 7, 12), Shift("夜班", 19, 12)])  # wraps past midnight


def test_ten_day_periods() -> None:
    assert dekad(date(2026, 2, 10)) == (date(2026, 2, 1), date(2026, 2, 10))
    assert dekad(date(2026, 2, 11)) == (date(2026, 2, 11), date(2026, 2, 20))
    assert dekad(date(2026, 2, 25)) == (
        date(2026, 2, 21),
        date(2026, 2, 28),
    )  # 下旬 of a short month
    assert dekad(date(2028, 2, 29)) == (date(2028, 2, 21), date(2028, 2, 29))
    assert dekad(date(2026, 12, 31)) == (date(2026, 12, 21), date(2026, 12, 31))


def test_quarters() -> None:
    assert quarter(date(2026, 5, 17)) == (date(2026, 4, 1), date(2026, 6, 30))
    assert quarter(date(2026, 12, 1)) == (date(2026, 10, 1), date(2026, 12, 31))


def test_signatures_go_in_order() -> None:
    assert next_signer([]) is Signer.DUTY_OPERATOR
    assert next_signer([Signer.DUTY_OPERATOR]) is Signer.DUTY_MINE_MANAGER
    assert next_signer(list(Signer)) is None
    with pytest.raises(ValueError, match="out of order"):
        next_signer([Signer.DUTY_MINE_MANAGER])


def test_new_interval_value_and_error() -> None:
    # a 10.000 t test load indicated as 10.250 t, old interval value 2,000:
    # new = 10 / 10.25 × 2,000 = 1,951.2195…; error = (10.25 − 10) / 10 × 100 = 2.5 %
    run = Run(actual_t=Decimal("10.000"), indicated_t=Decimal("10.250"))
    assert new_interval_value(run, Decimal(2000)).quantize(Decimal("0.0001")) == Decimal(
        "1951.2195"
    )
    assert error_percent(run) == Decimal("2.5")


def test_test_load_must_be_at_least_five_tonnes() -> None:
    with pytest.raises(ValueError, match="at least 5 t"):
        error_percent(Run(actual_t=Decimal("4.999"), indicated_t=Decimal(5)))


def test_due_fifteen_days_after() -> None:
    assert due_date(date(2026, 3, 16)) == date(2026, 3, 31)
