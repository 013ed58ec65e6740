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
    """A declared shutdown 停产报备; a stop of 2 days or more needs its written report
    书面报告 (a ``shutdown_report`` document of the mine's archive), here or filed later."""

    report_document: int | None = Field(default=None, ge=1)


class ShutdownReportIn(BaseModel):
    """The written report of a declaration: a document of the mine's archive."""

    model_config = ConfigDict(extra="forbid")
    document: int = Field(ge=1)


class ResumeIn(BaseModel):
    """复产申请: when the mine means to produce again."""

    model_config = ConfigDict(extra="forbid")
    resume_at: Moment


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
    #: when the declaration was filed (the server's clock)
    declared_at: Instant | None = None
    #: the supervising unit's acknowledgement 停产确认; None: not yet acknowledged
    acknowledged_by: str | None = None
    acknowledged_at: Instant | None = None
    #: a stop of 2 days or more needs a written report filed before it begins
    needs_report: bool = False
    report_document: int | None = None
    report_filed_at: Instant | None = None
    #: declared, or its report filed, after the stop began
    late: bool = False
    #: 复产: asked for (when, by whom) and acknowledged by the supervising unit
    resume_at: Instant | None = None
    resumption_requested_by: str | None = None
    resumption_requested_at: Instant | None = None
    resumption_acknowledged_by: str | None = None
    resumption_acknowledged_at: Instant | None = None


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
