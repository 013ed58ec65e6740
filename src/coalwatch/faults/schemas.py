from __future__ import annotations

from typing import Annotated, Literal

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
    """上报: the fault is reported upward now; the report time is the server's."""

    model_config = ConfigDict(extra="forbid")
    #: "system": reported through the center; "phone": it was reported by telephone
    #: (recorded now, for the supervising unit to confirm)
    via: Literal["system", "phone"] = "system"
    #: to whom, what was said
    note: Text | None = None
    #: refused (422): the report time is the server's time of the act, never a typed one
    reported_at: Moment | None = None


class ReportDecisionIn(BaseModel):
    """The supervising unit confirms a telephone report, or says it never came."""

    model_config = ConfigDict(extra="forbid")
    accepted: bool
    #: required when not accepted
    reason: Text | None = None


class ReductionDecisionIn(BaseModel):
    """The supervising unit confirms or waives a fault's pending reduction 核减/免减."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["confirm", "waive"]
    reason: Text


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
    #: 核减: capacity taken off because the fault was not reported within 2 h; it is
    #: computed when the deadline passes and grows with the fault until it recovers
    reduction_t: NumberOut | None
    #: "warning" past 1 h unreported, "violation" past 2 h
    report_lateness: str | None
    #: "system" or "phone" (None: not reported)
    reported_via: str | None = None
    report_note: str | None = None
    #: who of the supervising unit confirmed a telephone report, and when
    report_confirmed_by: str | None = None
    report_confirmed_at: Instant | None = None
    #: "pending" (counted at once), "confirmed" (counted) or "waived" (not counted)
    reduction_status: str | None = None
    reduction_decided_by: str | None = None
    reduction_decided_at: Instant | None = None
    reduction_reason: str | None = None


class FaultList(BaseModel):
    items: list[FaultOut]
