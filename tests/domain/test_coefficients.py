"""Rulebook "Production accounting" and "Coefficients": raw coal = gross × (1 − k).

k is the approved deduction coefficient (percent, at most 2 decimals) in force on
the sample's date; a later approval wins over an earlier one for the days they share.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from coalwatch.domain.coefficients import (
    Coefficient,
    coefficient_on,
    hundredths_to_percent,
    percent_to_hundredths,
    raw_tonnes,
    raw_units,
)
from coalwatch.domain.units import raw_units_to_tonnes, round_tonnes, tonnes_to_kg


def test_percent_is_kept_in_hundredths() -> None:
    # 4.5 % → 450 hundredths; 4.55 % → 455; 6 % → 600; 0 % → 0; 99.99 % → 9,999
    assert percent_to_hundredths("4.5") == 450
    assert percent_to_hundredths(Decimal("4.55")) == 455
    assert percent_to_hundredths(6) == 600
    assert percent_to_hundredths("0") == 0
    assert percent_to_hundredths("99.99") == 9_999
    assert hundredths_to_percent(450) == Decimal("4.5")
    assert Coefficient(455, date(2026, 1, 1), date(2026, 6, 30)).percent == Decimal("4.55")


@pytest.mark.parametrize("percent", ["4.555", "0.001", Decimal("10.125")])
def test_percent_with_three_decimals_is_refused(percent: str | Decimal) -> None:
    with pytest.raises(ValueError):
        percent_to_hundredths(percent)


@pytest.mark.parametrize("percent", ["-0.5", "-1", "100", "100.00", "120"])
def test_percent_outside_zero_to_100_is_refused(percent: str) -> None:
    with pytest.raises(ValueError):
        percent_to_hundredths(percent)


@pytest.mark.parametrize("percent", ["NaN", "Infinity", "abc", ""])
def test_percent_that_is_not_a_finite_number_is_refused(percent: str) -> None:
    with pytest.raises(ValueError):
        percent_to_hundredths(percent)


def test_raw_tonnes_are_exact() -> None:
    # 1.001 t at 4.55 %: 1.001 × (1 − 0.0455) = 1.001 × 0.9545 = 0.9554545 t (7 decimals, exact)
    assert raw_tonnes(Decimal("1.001"), Decimal("4.55")) == Decimal("0.9554545")
    # in raw units (1/10,000 kg): 1,001 kg × (10,000 − 455) = 1,001 × 9,545 = 9,554,545
    assert raw_units(1_001, 455) == 9_554_545
    # 1,000 t at 4.5 %: 1,000 × 0.955 = 955 t
    assert raw_tonnes(Decimal("1000"), Decimal("4.5")) == Decimal("955")
    # k = 0: raw = gross
    assert raw_tonnes(Decimal("12.345"), Decimal("0")) == Decimal("12.345")


def test_raw_tonnes_refuse_gross_finer_than_a_kilogram() -> None:
    with pytest.raises(ValueError):
        raw_tonnes(Decimal("1.0005"), Decimal("4.5"))


def test_coefficient_covers_its_first_and_last_day() -> None:
    first_half = Coefficient(450, date(2026, 1, 1), date(2026, 6, 30))
    assert first_half.covers(date(2026, 1, 1))
    assert first_half.covers(date(2026, 6, 30))
    assert not first_half.covers(date(2025, 12, 31))
    assert not first_half.covers(date(2026, 7, 1))


def test_half_year_coefficients_switch_on_july_1st() -> None:
    # 1 Jan–30 Jun at 4.5 %, 1 Jul–31 Dec at 5 %
    approved = [
        Coefficient(450, date(2026, 1, 1), date(2026, 6, 30)),
        Coefficient(500, date(2026, 7, 1), date(2026, 12, 31)),
    ]
    assert coefficient_on(approved, date(2026, 6, 30)) == 450
    assert coefficient_on(approved, date(2026, 7, 1)) == 500


def test_later_approval_wins_over_earlier_one_for_shared_days() -> None:
    # first approved: 5 % for the half year; approved later: 7.25 % from Apr 1 (new geology)
    earlier = Coefficient(500, date(2026, 1, 1), date(2026, 6, 30))
    later = Coefficient(725, date(2026, 4, 1), date(2026, 6, 30))
    approved = [earlier, later]  # in order of approval
    assert coefficient_on(approved, date(2026, 3, 31)) == 500  # only the earlier one covers it
    assert coefficient_on(approved, date(2026, 4, 1)) == 725  # shared: the later approval wins
    assert coefficient_on(approved, date(2026, 6, 30)) == 725
    # had they been approved the other way round, the 5 % would win on the shared days
    assert coefficient_on([later, earlier], date(2026, 4, 1)) == 500


def test_no_approved_coefficient_means_no_deduction() -> None:
    approved = [Coefficient(450, date(2026, 1, 1), date(2026, 6, 30))]
    assert coefficient_on(approved, date(2026, 7, 1)) == 0
    assert coefficient_on([], date(2026, 7, 1)) == 0


def test_coefficient_that_changes_mid_month() -> None:
    # March 2026: k = 4.5 % until the 15th, 6 % from the 16th (a new approval after a change
    # of mining method). Gross on day d = 1,000.125 t + d t.
    approved = [
        Coefficient(450, date(2026, 1, 1), date(2026, 6, 30)),
        Coefficient(600, date(2026, 3, 16), date(2026, 6, 30)),
    ]
    # days 1–15: gross = 15 × 1,000.125 + (1 + … + 15) = 15,001.875 + 120 = 15,121.875 t
    #   raw = 15,121.875 × 0.955 = 15,121.875 − 680.484375 = 14,441.390625 t
    # days 16–31: gross = 16 × 1,000.125 + (16 + … + 31) = 16,002 + 376 = 16,378 t
    #   raw = 16,378 × 0.94 = 16,378 − 982.68 = 15,395.32 t
    # month: gross 31,499.875 t, raw 14,441.390625 + 15,395.32 = 29,836.710625 t
    gross_kg_total = 0
    raw_units_total = 0
    for d in range(1, 32):
        day = date(2026, 3, 1) + timedelta(days=d - 1)
        gross_kg = tonnes_to_kg(Decimal("1000.125") + d)
        gross_kg_total += gross_kg
        raw_units_total += raw_units(gross_kg, coefficient_on(approved, day))
    assert gross_kg_total == 31_499_875
    assert raw_units_to_tonnes(raw_units_total) == Decimal("29836.710625")
    # shown or exported: half-up to 3 decimals → 29,836.711 t
    assert round_tonnes(raw_units_to_tonnes(raw_units_total)) == Decimal("29836.711")
    # one coefficient for the whole month would be wrong: 31,499.875 × 0.955 = 30,082.380625 t
    assert raw_units_to_tonnes(raw_units_total) != Decimal("30082.380625")
