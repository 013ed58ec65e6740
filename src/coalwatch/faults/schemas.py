from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code, Instant, NumberOut
from coalwatch.wire.types import Moment

Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]


class FaultIn(BaseModel):
    """A fault recorded by hand."""

    model_config = ConfigDict(extra="forbid")
    point: Code | None = None
    phenomenon: Text
    occurred_at: Moment


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: when it was reported upward (default: now)
    reported_at: Moment | None = None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Text
    #: when the system ran again (default: when its alarm ended, else now)
    recovered_at: Moment | None = None


class FaultOut(BaseModel):
    id: int
    mine: str
    point: str | None
    kind: str
    phenomenon: str
    #: what the system saw (its alarm's detail code and values; None for a fault entered
    #: by hand): the pages compose the phenomenon from it in their reader's language
    params: dict[str, str] | None = None
    occurred_at: Instant
    reported_at: Instant | None
    reported_by: str | None
    result: str | None
    recovered_at: Instant | None
    escalated_at: Instant | None
    closed_at: Instant | None
    #: 核减: capacity taken off because the fault was not reported within 2 h
    reduction_t: NumberOut | None
    #: "warning" past 1 h unreported, "violation" past 2 h
    report_lateness: str | None


class FaultList(BaseModel):
    items: list[FaultOut]
