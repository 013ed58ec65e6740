"""Exact units for tonnes.

Gross coal 毛煤 is measured to 1 kg, so it is kept as an integer number of
kilograms. The deduction coefficient k has at most 2 decimals in percent, so
raw coal 原煤 = gross × (1 − k) is an integer in units of 1/10,000 kg
("raw units"): ``raw_units = gross_kg × (10000 − k_hundredths)``. Sums of
these integers are exact whatever their number; rounding happens only when a
figure is shown or exported (half-up, 3 decimals).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

KG_PER_T = 1000
#: raw units per kilogram (10,000 hundredths of a percent make 100 %)
RAW_UNITS_PER_KG = 10_000
RAW_UNITS_PER_T = KG_PER_T * RAW_UNITS_PER_KG

_MILLI = Decimal("0.001")


def tonnes_to_kg(tonnes: Decimal | int | str) -> int:
    """Exact kilograms of a tonne figure with at most 3 decimals.

    Raises ValueError for more decimals, non-finite numbers or garbage, so that
    a figure that cannot be kept exactly is refused rather than rounded.
    """
    try:
        value = Decimal(tonnes) if not isinstance(tonnes, Decimal) else tonnes
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {tonnes!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {tonnes!r}")
    kg = value * KG_PER_T
    if kg != kg.to_integral_value():
        raise ValueError(f"{tonnes} t has more than 3 decimals (finer than 1 kg)")
    return int(kg)


def kg_to_tonnes(kg: int) -> Decimal:
    """Exact tonnes of an integer number of kilograms."""
    return Decimal(kg).scaleb(-3)


def raw_units_to_tonnes(units: int) -> Decimal:
    """Exact tonnes of raw units (1/10,000 kg): at most 7 decimals."""
    return Decimal(units).scaleb(-7)


def round_tonnes(value: Decimal | Fraction) -> Decimal:
    """A tonne figure as shown or exported: half-up to 3 decimals."""
    if isinstance(value, Fraction):
        return fraction_to_decimal(value, 3)
    return value.quantize(_MILLI, rounding=ROUND_HALF_UP)


def fraction_to_decimal(value: Fraction, places: int) -> Decimal:
    """Round an exact fraction half-up (away from zero on ties) to ``places`` decimals."""
    return quotient_to_decimal(value.numerator, value.denominator, places)


def quotient_to_decimal(numerator: int, denominator: int, places: int) -> Decimal:
    """``fraction_to_decimal`` of numerator / denominator (any non-zero denominator, the
    two need not be coprime), without building the fraction: what a table of many
    figures rounds."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(abs(numerator) * 10**places, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return Decimal(-quotient if numerator < 0 else quotient).scaleb(-places)
