"""The ledgers' pure rules: calibration figures, scrapping criteria, maintenance due dates,
UPS tests. Every figure is worked out by hand in a comment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from coalwatch.domain.alarms import calibration_overdue
from coalwatch.domain.calibration import (
    Run,
    check_write,
    due_date,
    error_percent,
    new_interval_value,
    shown,
)
from coalwatch.domain.records import (
    EquipmentStatus,
    MaintenanceKind,
    ScrapCriterion,
    add_months,
    check_scrap,
    maintenance_due,
    ups_test_passed,
)


def test_new_interval_value_and_error_of_a_five_tonne_run() -> None:
    run = Run(actual_t=Decimal("5.000"), indicated_t=Decimal("5.050"))
    # new = 5.000 / 5.050 × 1.0000 = 0.990099009900…; shown to 6 places: 0.990099
    new = new_interval_value(run, Decimal("1.0000"))
    assert shown(new, 6) == Decimal("0.990099")
    assert format(new, "f").startswith("0.99009900990099009900")
    # error = (5.050 − 5.000) / 5.000 × 100 = 0.050 / 5.000 × 100 = 1 %
    assert error_percent(run) == Decimal("1")
    assert shown(error_percent(run), 3) == Decimal("1.000")


def test_a_scale_that_shows_too_little_gets_a_larger_interval() -> None:
    run = Run(actual_t=Decimal("8.000"), indicated_t=Decimal("7.900"))
    # new = 8.000 / 7.900 × 2.5000 = 2.531645569…; error = (7.900 − 8.000) / 8.000 × 100 = −1.25
    assert shown(new_interval_value(run, Decimal("2.5000")), 6) == Decimal("2.531646")
    assert error_percent(run) == Decimal("-1.25")


def test_a_test_load_under_five_tonnes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5 t"):
        new_interval_value(Run(Decimal("4.999"), Decimal("5")), Decimal(1))


def test_the_new_value_is_written_only_after_a_confirming_run() -> None:
    with pytest.raises(ValueError, match="confirming second run"):
        check_write(True, None)
    check_write(False, None)
    check_write(True, Run(Decimal("5.000"), Decimal("5.001")))
    with pytest.raises(ValueError, match="at least 5 t"):
        check_write(False, Run(Decimal("3"), Decimal("3")))


def test_calibrated_on_the_first_is_due_on_the_sixteenth_and_overdue_on_the_seventeenth() -> None:
    # 2026-03-01 + 15 days = 2026-03-16, the last day; 03-17 is 16 days after: > 15
    assert due_date(date(2026, 3, 1)) == date(2026, 3, 16)
    assert not calibration_overdue(date(2026, 3, 1), date(2026, 3, 16), 15)
    assert calibration_overdue(date(2026, 3, 1), date(2026, 3, 17), 15)


@pytest.mark.parametrize("criterion", [c for c in ScrapCriterion if c.value != "repair_cost"])
def test_scrapping_on_any_criterion_of_the_seed(criterion: ScrapCriterion) -> None:
    check_scrap(EquipmentStatus.IN_USE, criterion)


def test_scrapping_for_repair_cost_needs_more_than_eighty_percent() -> None:
    # 80 % of 10,000.00 yuan is 8,000.00: exactly 8,000.00 is not "more than 80 %"
    with pytest.raises(ValueError, match="not more than 80 %"):
        check_scrap(
            EquipmentStatus.REPAIR, ScrapCriterion.REPAIR_COST, Decimal("8000.00"), Decimal(10000)
        )
    check_scrap(
        EquipmentStatus.REPAIR, ScrapCriterion.REPAIR_COST, Decimal("8000.01"), Decimal(10000)
    )
    with pytest.raises(ValueError, match="needs the repair cost"):
        check_scrap(EquipmentStatus.REPAIR, ScrapCriterion.REPAIR_COST)


def test_a_scrapped_item_is_not_scrapped_twice() -> None:
    with pytest.raises(ValueError, match="scrapped already"):
        check_scrap(EquipmentStatus.SCRAPPED, ScrapCriterion.AGED)


def test_monthly_maintenance_is_due_a_month_on_and_the_yearly_inspection_a_year_on() -> None:
    assert maintenance_due(MaintenanceKind.MONTHLY, date(2026, 3, 10)) == date(2026, 4, 10)
    # 31 January + 1 month: February has no 31st, so its last day
    assert maintenance_due(MaintenanceKind.MONTHLY, date(2026, 1, 31)) == date(2026, 2, 28)
    assert maintenance_due(MaintenanceKind.YEARLY, date(2028, 2, 29)) == date(2029, 2, 28)
    assert maintenance_due(MaintenanceKind.REPAIR, date(2026, 3, 10)) is None
    assert maintenance_due(MaintenanceKind.ROUTINE, date(2026, 3, 10)) is None
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_a_ups_passes_with_fifteen_minutes_on_backup_power() -> None:
    assert ups_test_passed(15)
    assert ups_test_passed(120)
    assert not ups_test_passed(14)
