"""Field types with the ranges the system works in, shared by station and center.

Times and dates outside 1970–2199 are refused with a clear message rather than
overflowing somewhere inside; tonnes are bounded far above any real figure but
well inside 64-bit kilograms.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from coalwatch.domain.limits import MAX_TONNES

FIRST_YEAR, LAST_YEAR = 1970, 2199


def _year_in_range(value: date) -> None:
    # the naive year: comparing aware datetimes near the limits could overflow
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must lie between {FIRST_YEAR} and {LAST_YEAR}")


def _moment(value: datetime) -> datetime:
    _year_in_range(value)
    return value


def _day(value: date) -> date:
    _year_in_range(value)
    return value


#: an instant with its UTC offset, 1970–2199
Moment = Annotated[AwareDatetime, AfterValidator(_moment)]
#: a calendar date, 1970–2199
Day = Annotated[date, AfterValidator(_day)]
#: a trillion tonnes: far above any figure, far below 2^63 kg (domain/limits.py)
TonnesBound = Field(allow_inf_nan=False, le=MAX_TONNES)
