"""Settlement 结算: fees and taxes charged per tonne of raw coal on monitored production.

Each fee item has rates (yuan per tonne of raw coal, at most 4 decimals) that
take effect on a date. A monthly statement has one line per item and per rate
in force during the month: the line's tonnes are the exact raw production of
its days, its amount is tonnes × rate rounded half-up to the fen (0.01 yuan),
and the statement's total is the sum of its lines, so the printed statement adds up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from coalwatch.domain.units import raw_units_to_tonnes

FEN = Decimal("0.01")


def rate_places_ok(rate: Decimal) -> bool:
    return rate.is_finite() and rate >= 0 and rate == rate.quantize(Decimal("0.0001"))


def parse_rate(value: Decimal | str) -> Decimal:
    """A rate in yuan per tonne: non-negative, at most 4 decimals."""
    try:
        rate = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not rate_places_ok(rate):
        raise ValueError(f"a rate must be non-negative with at most 4 decimals, got {value}")
    return rate


@dataclass(frozen=True, slots=True)
class Rate:
    effective_from: date
    yuan_per_t: Decimal


def rate_on(rates: Sequence[Rate], day: date) -> Decimal | None:
    """The rate in force on a day (the latest that started by then; of two on the same
    date, the later listed); None before the first."""
    current: Rate | None = None
    for rate in rates:
        if rate.effective_from <= day and (
            current is None or rate.effective_from >= current.effective_from
        ):
            current = rate
    return None if current is None else current.yuan_per_t


@dataclass(frozen=True, slots=True)
class Line:
    item: str
    first_day: date
    last_day: date
    yuan_per_t: Decimal
    raw_t: Decimal
    amount: Decimal


def round_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def statement_lines(
    items: Mapping[str, Sequence[Rate]],
    raw_units_by_day: Mapping[date, int],
    first: date,
    last: date,
) -> list[Line]:
    """One line per item and per stretch of days with the same rate (days without a
    rate are not charged)."""
    lines: list[Line] = []
    for item, rates in items.items():
        day = first
        stretch: tuple[date, Decimal, int] | None = None  # (start, rate, raw units)
        while day <= last:
            rate = rate_on(rates, day)
            units = raw_units_by_day.get(day, 0)
            if stretch is not None and rate == stretch[1]:
                stretch = (stretch[0], stretch[1], stretch[2] + units)
            else:
                if stretch is not None:
                    lines.append(_line(item, stretch, day - timedelta(days=1)))
                stretch = None if rate is None else (day, rate, units)
            day += timedelta(days=1)
        if stretch is not None:
            lines.append(_line(item, stretch, last))
    return lines


def _line(item: str, stretch: tuple[date, Decimal, int], last: date) -> Line:
    start, rate, units = stretch
    tonnes = raw_units_to_tonnes(units)
    return Line(item, start, last, rate, tonnes, round_fen(tonnes * rate))


def statement_total(lines: Sequence[Line]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00"))
