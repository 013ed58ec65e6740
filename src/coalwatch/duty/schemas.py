"""The duty log 运行日志, patrols 巡检 and shift handovers 交接班记录."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code, Instant, Name
from coalwatch.wire.types import Day, Moment

Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]
Note = Annotated[str, Field(max_length=2000)]
CheckItem = Literal["system", "network", "workplace", "records", "unfinished"]
HandoverStateName = Literal["draft", "outgoing_signed", "complete"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DutyEntryIn(_In):
    """An entry of the duty log; ``at`` defaults to now."""

    at: Moment | None = None
    text: Text


class DutyEntryOut(BaseModel):
    id: int
    mine: str
    mine_name: str
    shift_day: Day
    shift: str
    at: Instant
    text: str
    recorded_by: str


class DutyEntryList(BaseModel):
    items: list[DutyEntryOut]
    total: int


class PatrolIn(_In):
    """A patrol of the field equipment; ``at`` defaults to now, ``patrolled_by`` to the
    caller, ``point`` to the whole mine."""

    at: Moment | None = None
    point: Code | None = None
    patrolled_by: Name | None = None
    checked: Text
    findings: Text


class PatrolOut(BaseModel):
    id: int
    mine: str
    mine_name: str
    point: str | None
    shift_day: Day
    shift: str
    at: Instant
    patrolled_by: str
    checked: str
    findings: str
    recorded_by: str


class PatrolList(BaseModel):
    items: list[PatrolOut]
    total: int


class ShiftOut(BaseModel):
    """One shift of a mine: its duty log entries, patrols and handover."""

    mine: str
    day: Day
    shift: str
    start: Instant
    end: Instant
    ended: bool
    entries: int
    patrols: int
    #: the shift has ended with fewer than two patrols 巡检不足
    patrols_short: bool
    handover: int | None
    handover_state: HandoverStateName | None


class ShiftList(BaseModel):
    items: list[ShiftOut]
    #: shifts flagged for missing patrols
    short: int


class CheckIn(_In):
    item: CheckItem
    ok: bool
    note: Note | None = None


class ResolvedIn(_In):
    """A carried issue the outgoing shift has dealt with."""

    issue: Annotated[int, Field(ge=1, le=2**31 - 1)]
    resolution: Note | None = None


class HandoverIn(_In):
    """The outgoing operator's handover, signed as it is submitted; the incoming operator
    (a username) signs next. The shift defaults to the one running now. Unresolved issues
    of the previous handover are carried in; ``resolved`` marks those dealt with."""

    shift_day: Day | None = None
    shift: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    incoming: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    checks: Annotated[list[CheckIn], Field(min_length=5, max_length=5)]
    issues: Annotated[list[Text], Field(max_length=50)] = []
    resolved: Annotated[list[ResolvedIn], Field(max_length=200)] = []
    note: Note | None = None


class SignIn(_In):
    """The incoming operator's signature, with a remark."""

    note: Note | None = None


class CheckOut(BaseModel):
    item: CheckItem
    label: str
    ok: bool
    note: str | None


class IssueOut(BaseModel):
    id: int
    text: str
    resolved: bool
    resolution: str | None
    #: the issue of the previous handover it continues
    carried_from: int | None


class HandoverOut(BaseModel):
    id: int
    mine: str
    mine_name: str
    shift_day: Day
    shift: str
    shift_end: Instant
    outgoing: str
    incoming: str
    note: str | None
    checks: list[CheckOut]
    issues: list[IssueOut]
    state: HandoverStateName
    #: whose signature it waits for: "incoming", or None when complete
    next_signer: Literal["outgoing", "incoming"] | None
    outgoing_signed_at: Instant | None
    incoming_signed_at: Instant | None
    incoming_note: str | None
    #: patrols recorded in the outgoing shift
    patrols: int


class HandoverList(BaseModel):
    items: list[HandoverOut]
    total: int


class CarriedList(BaseModel):
    """The issues a new handover of the mine would carry in (unresolved, previous shift)."""

    items: list[IssueOut]
