from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coalwatch.schemas import Code, Instant
from coalwatch.wire.types import Day, Moment

Reason = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Moment
    end: Moment
    reason: Reason

    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PermitIn(_Window):
    """An approved permit to open an instrument or change its parameters 开盖/调参审批."""

    point: Code | None = None


class ShutdownIn(_Window):
    """A declared shutdown 停产报备 (the written notice is kept on file)."""


class PermitOut(BaseModel):
    id: int
    mine: str
    point: str | None
    start: Instant
    end: Instant
    reason: str
    approved_by: str


class ShutdownOut(BaseModel):
    id: int
    mine: str
    start: Instant
    end: Instant
    reason: str
    declared_by: str
    #: the supervising unit's acknowledgement 停产确认; None: not yet acknowledged
    acknowledged_by: str | None = None
    acknowledged_at: Instant | None = None


class PermitList(BaseModel):
    items: list[PermitOut]


class ShutdownList(BaseModel):
    items: list[ShutdownOut]


class CalibrationIn(BaseModel):
    """A calibration 调校 of a belt scale (its full ledger entry comes with the records)."""

    model_config = ConfigDict(extra="forbid")
    point: Code
    calibrated_on: Day
    note: Annotated[str, Field(max_length=2000)] | None = None


class CalibrationOut(BaseModel):
    id: int
    mine: str
    point: str
    calibrated_on: Day
    note: str | None
    recorded_by: str
