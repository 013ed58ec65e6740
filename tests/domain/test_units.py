"""Rulebook "Production accounting": sums exact to 1 kg, rounding half-up to 3 decimals
only when a figure is shown or exported; a total is the rounding of the exact sum.
"""

from decimal import Decimal
from fractions import Fraction

import pytest

from coalwatch.domain.units import (
    fraction_to_decimal,
    kg_to_tonnes,
    quotient_to_decimal,
    raw_units_to_tonnes,
    round_tonnes,
    tonnes_to_kg,
)


def test_tonnes_with_three_decimals_are_whole_kilograms() -> None:
    # 0.137 t = 137 kg; 864,086.400 t = 864,086,400 kg; 5 t = 5,000 kg
    assert tonnes_to_kg("0.137") == 137
    assert tonnes_to_kg(Decimal("864086.400")) == 864_086_400
    assert tonnes_to_kg(5) == 5_000
    # trailing zeros beyond the third decimal change nothing: 1.0000 t = 1,000 kg
    assert tonnes_to_kg("1.0000") == 1_000


@pytest.mark.parametrize("tonnes", ["0.1375", "1.0001", Decimal("62.5001")])
def test_tonnes_finer_than_a_kilogram_are_refused(tonnes: str | Decimal) -> None:
    with pytest.raises(ValueError):
        tonnes_to_kg(tonnes)


@pytest.mark.parametrize("tonnes", ["NaN", "Infinity", "-Infinity", Decimal("NaN"), "abc"])
def test_tonnes_that_are_not_a_finite_number_are_refused(tonnes: str | Decimal) -> None:
    with pytest.raises(ValueError):
        tonnes_to_kg(tonnes)


def test_kilograms_to_tonnes_keeps_three_decimals() -> None:
    # 137 kg = 0.137 t; 1,000 kg = 1.000 t
    assert kg_to_tonnes(137) == Decimal("0.137")
    assert str(kg_to_tonnes(1_000)) == "1.000"
    assert str(kg_to_tonnes(864_086_400)) == "864086.400"


def test_raw_units_are_ten_thousandths_of_a_kilogram() -> None:
    # 9,554,545 raw units = 9,554,545 / 10,000 kg = 955.4545 kg = 0.9554545 t
    assert raw_units_to_tonnes(9_554_545) == Decimal("0.9554545")


@pytest.mark.parametrize(
    ("exact", "shown"),
    [
        ("0.0005", "0.001"),  # a tie rounds up
        ("2.0004999", "2.000"),  # just below the tie rounds down
        ("2.0005", "2.001"),
        ("0.9554545", "0.955"),
        ("29836.710625", "29836.711"),
        ("-0.0005", "-0.001"),  # half-up: ties away from zero
    ],
)
def test_round_tonnes_half_up_to_three_decimals(exact: str, shown: str) -> None:
    rounded = round_tonnes(Decimal(exact))
    assert rounded == Decimal(shown)
    assert str(rounded) == shown


@pytest.mark.parametrize(
    ("exact", "shown"),
    [
        (Fraction(1, 3), "0.333"),  # 0.3333…
        (Fraction(2, 3), "0.667"),  # 0.6666…
        (Fraction(1, 2000), "0.001"),  # 0.0005, a tie
        (Fraction(125, 2), "62.500"),  # H for A = 330,000
        (Fraction(-1, 3), "-0.333"),
        (Fraction(-1, 2000), "-0.001"),  # −0.0005: a negative tie goes away from zero
    ],
)
def test_round_tonnes_of_an_exact_fraction(exact: Fraction, shown: str) -> None:
    rounded = round_tonnes(exact)
    assert rounded == Decimal(shown)
    assert str(rounded) == shown


def test_fraction_to_decimal_on_one_third() -> None:
    # 1/3 = 0.3333… → 0.333 (3 places), 0.33333 (5 places), 0 (0 places)
    assert fraction_to_decimal(Fraction(1, 3), 3) == Decimal("0.333")
    assert fraction_to_decimal(Fraction(1, 3), 5) == Decimal("0.33333")
    assert fraction_to_decimal(Fraction(1, 3), 0) == Decimal("0")


def test_fraction_to_decimal_on_negative_ties() -> None:
    # −5/2 = −2.5 → −3; −1/8 = −0.125 → −0.13 (2 places); −1/3 → −0.333 (not a tie)
    assert fraction_to_decimal(Fraction(-5, 2), 0) == Decimal("-3")
    assert fraction_to_decimal(Fraction(-1, 8), 2) == Decimal("-0.13")
    assert fraction_to_decimal(Fraction(-1, 3), 3) == Decimal("-0.333")
    # and positive ties go up: 5/2 → 3, 1/8 → 0.13
    assert fraction_to_decimal(Fraction(5, 2), 0) == Decimal("3")
    assert fraction_to_decimal(Fraction(1, 8), 2) == Decimal("0.13")


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [(1, 3), (-5, 2), (5, 2), (-1, 8), (1, 8), (10, 20), (-10, 20), (3, -8), (0, 7), (-7, -16)],
)
@pytest.mark.parametrize("places", [0, 2, 3, 4])
def test_a_quotient_rounds_as_its_fraction(numerator: int, denominator: int, places: int) -> None:
    # terms not in lowest terms (10/20) and negative denominators (3/−8 = −0.375) round as
    # the fraction they make: −0.375 → −0.38 (2 places), 10/20 = 0.5 → 1 (0 places)
    exact = fraction_to_decimal(Fraction(numerator, denominator), places)
    assert quotient_to_decimal(numerator, denominator, places) == exact
    assert str(quotient_to_decimal(numerator * 7, denominator * 7, places)) == str(exact)
    assert quotient_to_decimal(3, -8, 2) == Decimal("-0.38")


def test_a_total_is_the_rounding_of_the_exact_sum_not_the_sum_of_rounded_parts() -> None:
    # three hours of 1.0004 t raw each: exact sum 3.0012 t → shown 3.001 t, whereas the
    # shown parts 1.000 + 1.000 + 1.000 would add up to 3.000 t
    parts = [Decimal("1.0004")] * 3
    assert round_tonnes(sum(parts, Decimal(0))) == Decimal("3.001")
    assert sum((round_tonnes(p) for p in parts), Decimal(0)) == Decimal("3.000")
