"""Deduction coefficient 毛煤与原煤折算系数 and raw coal 原煤.

Raw = gross × (1 − k), k the mine's approved coefficient (percent, at most
2 decimals) in force on the sample's date. Approved values hold for half a
year; a later approval for the same dates supersedes an earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from coalwatch.domain.units import RAW_UNITS_PER_KG, raw_units_to_tonnes, tonnes_to_kg

ONE_DAY = timedelta(days=1)
#: 100 % in hundredths of a percent
FULL_HUNDREDTHS = 10_000


def percent_to_hundredths(percent: Decimal | str | int) -> int:
    """A coefficient in hundredths of a percent (4.5 % → 450).

    Refuses more than 2 decimals and values outside [0, 100).
    """
    try:
        value = percent if isinstance(percent, Decimal) else Decimal(percent)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {percent!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {percent!r}")
    hundredths = value * 100
    if hundredths != hundredths.to_integral_value():
        raise ValueError(f"coefficient {percent} % has more than 2 decimals")
    if not 0 <= value < 100:
        raise ValueError(f"coefficient {percent} % is outside [0, 100)")
    return int(hundredths)


def hundredths_to_percent(hundredths: int) -> Decimal:
    return Decimal(hundredths).scaleb(-2)


@dataclass(frozen=True, slots=True)
class Coefficient:
    """An approved coefficient with the inclusive dates it is in force."""

    hundredths: int
    effective_from: date
    effective_to: date

    @property
    def percent(self) -> Decimal:
        return hundredths_to_percent(self.hundredths)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day <= self.effective_to


def coefficient_on(approved: Sequence[Coefficient], day: date) -> int:
    """Hundredths of a percent in force on ``day``; 0 where none is approved.

    ``approved`` is in order of approval: a later approval wins over an earlier
    one for the days they share.
    """
    for coefficient in reversed(approved):
        if coefficient.covers(day):
            return coefficient.hundredths
    return 0


def raw_units(gross_kg: int, hundredths: int) -> int:
    """Raw coal of ``gross_kg`` in units of 1/10,000 kg, exactly."""
    return gross_kg * (FULL_HUNDREDTHS - hundredths)


def raw_tonnes(gross_t: Decimal, percent: Decimal) -> Decimal:
    """Raw tonnes of gross tonnes at a coefficient, exactly (≤ 7 decimals)."""
    units = raw_units(tonnes_to_kg(gross_t), percent_to_hundredths(percent))
    return raw_units_to_tonnes(units)


assert RAW_UNITS_PER_KG == FULL_HUNDREDTHS


@dataclass(frozen=True, slots=True)
class Span:
    """Days [day_from, day_to] on which one approval (by its index) is in force."""

    approval: int
    hundredths: int
    day_from: date
    day_to: date


def spans_in_force(approved: Sequence[Coefficient]) -> list[Span]:
    """Non-overlapping spans of the coefficient in force, a later approval winning.

    Agrees with :func:`coefficient_on` on every day.
    """
    spans: list[Span] = []
    for index, new in enumerate(approved):
        kept: list[Span] = []
        for span in spans:
            if span.day_to < new.effective_from or span.day_from > new.effective_to:
                kept.append(span)
                continue
            if span.day_from < new.effective_from:
                kept.append(
                    Span(
                        span.approval, span.hundredths, span.day_from, new.effective_from - ONE_DAY
                    )
                )
            if span.day_to > new.effective_to:
                kept.append(
                    Span(span.approval, span.hundredths, new.effective_to + ONE_DAY, span.day_to)
                )
        kept.append(Span(index, new.hundredths, new.effective_from, new.effective_to))
        spans = sorted(kept, key=lambda s: s.day_from)
    return spans
