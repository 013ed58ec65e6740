"""The coefficient application rules of domain/workflows.py (seed: 毛煤与原煤折算系数管理办法)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from coalwatch.domain.workflows import (
    Application,
    ApplicationKind,
    HalfYear,
    RuleBroken,
    application_window,
    change_filed_in_time,
    change_span,
    check_application,
    filed_in_window,
    half_year,
    is_half_year,
    needs_site_measurement,
)


def _app(**kw: object) -> Application:
    base: dict[str, object] = {
        "kind": ApplicationKind.HALF_YEAR,
        "percent": Decimal("4.5"),
        "effective_from": date(2026, 7, 1),
        "effective_to": date(2026, 12, 31),
        "site_measurement": None,
        "changed_on": None,
    }
    base.update(kw)
    return Application(**base)  # type: ignore[arg-type]


def test_half_years_are_january_to_june_and_july_to_december() -> None:
    assert half_year(date(2026, 6, 30)) == HalfYear(date(2026, 1, 1), date(2026, 6, 30))
    assert half_year(date(2026, 7, 1)) == HalfYear(date(2026, 7, 1), date(2026, 12, 31))
    assert is_half_year(date(2026, 1, 1), date(2026, 6, 30))
    assert not is_half_year(date(2026, 1, 1), date(2026, 3, 31))
    assert not is_half_year(date(2026, 2, 1), date(2026, 6, 30))


def test_applications_are_due_in_december_and_june() -> None:
    h1, h2 = half_year(date(2027, 1, 1)), half_year(date(2026, 7, 1))
    assert application_window(h1) == (date(2026, 12, 1), date(2026, 12, 31))
    assert application_window(h2) == (date(2026, 6, 1), date(2026, 6, 30))
    assert filed_in_window(h2, date(2026, 6, 30))
    assert not filed_in_window(h2, date(2026, 7, 1))  # late, but still possible


def test_a_site_measurement_is_required_above_ten_percent() -> None:
    assert not needs_site_measurement(Decimal("10.00"))
    assert needs_site_measurement(Decimal("10.01"))
    with pytest.raises(RuleBroken, match="site measurement"):
        check_application(_app(percent=Decimal("10.5")), date(2026, 6, 10))
    period = check_application(
        _app(percent=Decimal("10.5"), site_measurement="测算报告 2026-07"), date(2026, 6, 10)
    )
    assert period.label == "2026-H2"


def test_a_change_application_comes_within_fifteen_days() -> None:
    # change on 1 March: day 0; 16 March is day 15 (in time), 17 March day 16 (late)
    assert change_filed_in_time(date(2026, 3, 1), date(2026, 3, 16))
    assert not change_filed_in_time(date(2026, 3, 1), date(2026, 3, 17))
    change = _app(
        kind=ApplicationKind.CHANGE,
        effective_from=None,
        effective_to=None,
        changed_on=date(2026, 3, 1),
    )
    assert check_application(change, date(2026, 3, 16)).last == date(2026, 6, 30)
    with pytest.raises(RuleBroken, match="within 15 days"):
        check_application(change, date(2026, 3, 17))


def test_a_change_coefficient_runs_to_the_end_of_its_half_year() -> None:
    assert change_span(None, date(2026, 3, 20)) == (date(2026, 3, 20), date(2026, 6, 30))
    assert change_span(date(2026, 8, 2), date(2026, 3, 20)) == (
        date(2026, 8, 2),
        date(2026, 12, 31),
    )


def test_an_ended_half_year_or_a_partial_period_is_refused() -> None:
    with pytest.raises(RuleBroken, match="has ended"):
        check_application(
            _app(effective_from=date(2025, 7, 1), effective_to=date(2025, 12, 31)), date(2026, 1, 5)
        )
    with pytest.raises(RuleBroken, match="per half-year"):
        check_application(
            _app(effective_from=date(2026, 7, 1), effective_to=date(2026, 9, 30)), date(2026, 6, 5)
        )
