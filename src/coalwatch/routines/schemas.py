"""Routine checks 定期检查: a record with its values and both signatures; the board."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code, Instant, Name
from coalwatch.wire.types import Day, Moment

RoutineKind = Literal[
    "line_check",
    "attenuation_test",
    "maintenance",
    "balance",
    "lubrication",
    "ups_runtime",
    "self_check",
    "county_inspection",
    "city_acceptance",
]
Value = Annotated[str, Field(max_length=2000)]


class RoutineIn(BaseModel):
    """A check done: the values before and after, what was found, who did it and the
    operator who took the equipment back (both sign); ``minutes`` is the UPS runtime."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: RoutineKind
    point: Code | None = None
    done_at: Moment | None = None
    before: Value | None = None
    after: Value | None = None
    minutes: Annotated[int, Field(ge=0, le=10000)] | None = None
    findings: Value | None = None
    performed_by: Name | None = None
    taken_back_by: Name


class RoutineOut(BaseModel):
    id: int
    mine: str
    point: str | None
    kind: str
    done_at: Instant
    before: str | None
    after: str | None
    minutes: int | None
    verdict: str | None
    findings: str | None
    performed_by: str
    taken_back_by: str
    recorded_by: str


class RoutineList(BaseModel):
    items: list[RoutineOut]


class BoardItem(BaseModel):
    """One check of one mine (and point): when last done, its last day, its state."""

    mine: str
    mine_name: str
    point: str | None
    kind: str
    last: Day | None
    due: Day
    state: Literal["done", "to_do", "due", "overdue"]
    interval_days: int | None


class Board(BaseModel):
    items: list[BoardItem]
    overdue: int
    due: int
