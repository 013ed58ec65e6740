from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Instant, NumberOut

Status = Literal["held", "confirmed", "rejected"]


class SuspectOut(BaseModel):
    id: int
    mine: str
    point: str
    station: str
    seq: int
    #: the reading, and the one before it
    ts: Instant
    previous_ts: Instant
    old_t: NumberOut
    new_t: NumberOut
    #: what the increment would be (normal / rollover / reset), and the most it could be
    increment_t: NumberOut
    kind: str
    reason: str
    limit_t: NumberOut
    status: Status
    decided_by: str | None
    decided_at: Instant | None
    decision_reason: str | None


class SuspectList(BaseModel):
    items: list[SuspectOut]


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)] | None = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
