"""Field types shared by the API schemas: exact tonnes in, decimal numbers out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field, PlainSerializer

from coalwatch.domain.limits import MAX_CAPACITY_T, MAX_TRIP_T, MAX_WINDOW_T
from coalwatch.domain.units import tonnes_to_kg
from coalwatch.wire.types import TonnesBound


def _exact_tonnes(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    tonnes_to_kg(value)
    return value


def _as_number(value: Decimal) -> float | int:
    # JSON has one number type; a value of at most 15 significant digits
    # (every shown tonne figure) is written with exactly its decimal digits.
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return float(value)


#: tonnes given by a client: non-negative, to the kilogram at most
TonnesIn = Annotated[Decimal, TonnesBound, AfterValidator(_exact_tonnes)]
#: a capacity or plan (t): at most 10^9 t (domain/limits.py)
CapacityTonnesIn = Annotated[
    Decimal, Field(allow_inf_nan=False, le=MAX_CAPACITY_T), AfterValidator(_exact_tonnes)
]
#: a point's lightest trip (t): at most the heaviest trip there is
MinTripTonnesIn = Annotated[
    Decimal, Field(allow_inf_nan=False, le=MAX_TRIP_T), AfterValidator(_exact_tonnes)
]
#: what a belt must carry in its window (t): at most a day at the hourly limit
WindowTonnesIn = Annotated[
    Decimal, Field(allow_inf_nan=False, le=MAX_WINDOW_T), AfterValidator(_exact_tonnes)
]
#: a decimal figure in a response, written as a JSON number
NumberOut = Annotated[
    Decimal, PlainSerializer(_as_number, return_type=int | float, when_used="json")
]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: an instant in a response, always written in UTC ("…Z")
Instant = Annotated[datetime, AfterValidator(_utc)]


#: a database id in a path
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
