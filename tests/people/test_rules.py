"""The people and routine rules as pure functions, with dates worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from coalwatch.domain import people, routines


def test_a_certificate_issued_2024_12_10_is_valid_through_2026_12_09_and_warns_from_11_09() -> None:
    # two years from 2024-12-10 is 2026-12-10; less a day: valid through 2026-12-09;
    # 30 days before that: December has 9 days back to 11-30, 21 more into November:
    # 2026-11-09
    through = people.valid_through(date(2024, 12, 10))
    assert through == date(2026, 12, 9)
    assert people.warning_from(through) == date(2026, 11, 9)
    assert people.state_on(through, date(2026, 11, 8)) is people.CertificateState.VALID
    assert people.state_on(through, date(2026, 11, 9)) is people.CertificateState.EXPIRING
    assert people.state_on(through, date(2026, 12, 9)) is people.CertificateState.EXPIRING
    assert people.state_on(through, date(2026, 12, 10)) is people.CertificateState.EXPIRED
    assert people.state_on(None, date(2026, 12, 10)) is people.CertificateState.MISSING


def test_a_renewal_adds_two_years_from_the_end_or_from_a_late_renewal() -> None:
    # renewed before expiry: the new validity starts 2026-12-10, through 2028-12-09
    assert people.renewed_through(date(2026, 12, 9), date(2026, 11, 20)) == date(2028, 12, 9)
    # renewed after expiry, on 2027-03-01: through 2029-02-28
    assert people.renewed_through(date(2026, 12, 9), date(2027, 3, 1)) == date(2029, 2, 28)


def test_id_numbers_are_kept_masked() -> None:
    assert people.mask_id_number("110101199003074518") == "110***********4518"
    with pytest.raises(ValueError):
        people.mask_id_number("1234")


def test_staffing_minimums_may_be_raised_never_lowered() -> None:
    assert people.staffing_floor(supervising=True) == 3
    assert people.staffing_floor(supervising=False) == 2
    assert people.tightened(3, None) == 3
    assert people.tightened(2, 4) == 4
    with pytest.raises(ValueError):
        people.tightened(3, 2)


def test_late_sign_on_is_after_the_arrival_time() -> None:
    start = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)
    # 10 minutes early by default: 23:50 is on time, 23:51 late
    assert not people.late_sign_on(start, 10, datetime(2026, 3, 14, 23, 50, tzinfo=UTC))
    assert people.late_sign_on(start, 10, datetime(2026, 3, 14, 23, 51, tzinfo=UTC))
    # a unit asking 30 minutes: 23:40 is late
    assert people.late_sign_on(start, 30, datetime(2026, 3, 14, 23, 40, tzinfo=UTC))


def test_a_ups_test_of_50_minutes_asks_for_battery_replacement() -> None:
    # 50 min < 60 min: replace; 90 min: below the 120 min expected; 120 min: as expected
    assert routines.ups_verdict(50) is routines.Verdict.REPLACE_BATTERIES
    assert routines.ups_verdict(90) is routines.Verdict.BELOW_EXPECTED
    assert routines.ups_verdict(120) is routines.Verdict.OK


def test_a_line_check_not_done_for_3_days_is_overdue() -> None:
    line = routines.BY_CODE["line_check"]
    # done on 03-10: due by 03-12 (three a week, every other day); 03-13 is overdue
    due = routines.due_on(line, date(2026, 3, 10))
    assert due == date(2026, 3, 12)
    assert routines.due_state(due, date(2026, 3, 12)) is routines.DueState.DUE
    assert routines.due_state(due, date(2026, 3, 13)) is routines.DueState.OVERDUE


def test_a_check_never_done_and_not_due_yet_is_to_do_not_done() -> None:
    due = date(2026, 4, 1)
    assert routines.due_state(due, date(2026, 3, 1)) is routines.DueState.DONE
    assert routines.due_state(due, date(2026, 3, 1), done=False) is routines.DueState.TO_DO
    assert routines.DUE_LABELS[routines.DueState.TO_DO] == "待开展"
    # once due, the same as a check done before
    assert routines.due_state(due, date(2026, 3, 30), done=False) is routines.DueState.DUE
    assert routines.due_state(due, date(2026, 4, 2), done=False) is routines.DueState.OVERDUE


def test_monthly_checks_fall_due_a_calendar_month_later() -> None:
    monthly = routines.BY_CODE["attenuation_test"]
    assert routines.due_on(monthly, date(2026, 1, 31)) == date(2026, 2, 28)
    assert routines.due_on(routines.BY_CODE["lubrication"], date(2026, 1, 31)) == date(2026, 3, 2)


def test_a_recurring_calibration_drift_halves_the_interval() -> None:
    # class 0.5: 0.6 % is beyond; two in a row halve 15 days to 7
    assert routines.beyond_accuracy(Decimal("0.6"))
    assert not routines.beyond_accuracy(Decimal("-0.5"))
    assert routines.shortened_interval([Decimal("0.6")], 15) == 15
    assert routines.shortened_interval([Decimal("0.6"), Decimal("-0.7")], 15) == 7
    assert routines.shortened_interval([Decimal("0.6"), Decimal("0.1")], 15) == 15
