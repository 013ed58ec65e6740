from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Instant, NumberOut


class RecordOut(BaseModel):
    """A record as the station sent it, with the production it contributed."""

    station: str
    seq: int
    ts: Instant
    type: str
    point: str | None
    #: totalizer reading or trip net weight (t)
    value_t: NumberOut | None
    #: production counted for this record (t)
    increment_t: NumberOut | None
    increment_kind: str | None
    flow_tph: NumberOut | None
    running: bool | None
    event: str | None
    detail: str | None
    received_at: Instant
    #: the station's own timestamp when it was ahead of the center beyond the skew
    #: tolerated: the record is then accounted at ``ts``, its receipt time
    station_ts: Instant | None = None


class RecordList(BaseModel):
    items: list[RecordOut]


class QuarantinedOut(BaseModel):
    station: str
    seq: int | None
    payload: str
    reason: str
    received_at: Instant


class QuarantineList(BaseModel):
    items: list[QuarantinedOut]


class WriteOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class WriteOffOut(BaseModel):
    station: str
    written_off: list[tuple[int, int]]
