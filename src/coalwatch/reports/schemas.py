"""The reports' JSON: the daily monitoring report 监测日报表 (a frozen snapshot per
revision, with its signatures) and the period reports 班/旬/月/季/年报表."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.domain.reports import Signer
from coalwatch.production.schemas import Figure
from coalwatch.schemas import Instant, NumberOut

DailyFormat = Literal["json", "html", "pdf", "xlsx"]
PeriodFormat = Literal["json", "csv", "xlsx", "pdf", "html"]
PeriodKind = Literal["shift", "dekad", "month", "quarter", "year"]


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=32)]
    #: local hour the shift starts, 0–23
    start_hour: Annotated[int, Field(ge=0, le=23)]
    hours: Annotated[int, Field(ge=1, le=24)]


class ShiftsIn(BaseModel):
    """A mine's shifts: together they cover each hour of the day exactly once."""

    model_config = ConfigDict(extra="forbid")
    shifts: Annotated[list[ShiftIn], Field(min_length=1, max_length=24)]


class ShiftsOut(BaseModel):
    mine: str
    shifts: list[ShiftIn]
    #: the default three shifts of 8 hours (no setting stored)
    default: bool


class HourRow(Figure):
    """One local hour [hh:00, hh+1:00) of the day."""

    hour: int
    start: datetime
    shift: str


class ShiftRow(Figure):
    """A shift's subtotal 班小计: exact sums of its hours, rounded once."""

    name: str
    start_hour: int
    hours: int


class AlarmLine(BaseModel):
    type: str
    label: str
    severity: str
    point: str | None
    start: Instant
    #: None while it went on past the end of the day
    end: Instant | None
    value: str | None
    threshold: str | None


class FaultLine(BaseModel):
    kind: str
    point: str | None
    phenomenon: str
    #: what the system saw (its alarm's detail code and values), for the phenomenon in
    #: the reader's language; None for a fault entered by hand
    params: dict[str, str] | None = None
    occurred_at: Instant
    reported_at: Instant | None
    #: None while not recovered by the end of the day
    recovered_at: Instant | None


class ManualLine(BaseModel):
    point: str
    start: Instant
    end: Instant
    gross_t: NumberOut
    reason: str
    entered_by: str
    approved_by: str | None
    overlaps_measured: bool


class DailyContent(BaseModel):
    """What a revision freezes: every figure and list of the day (not its signatures)."""

    mine: str
    name: str
    org: str
    org_name: str
    #: the mine-local calendar day of the report
    date: dt.date
    timezone: str
    hours: list[HourRow]
    shifts: list[ShiftRow]
    #: 当日 / 月累计 / 年累计, gross and raw, with capacity and ratio
    day: Figure
    month: Figure
    year: Figure
    alarms: list[AlarmLine]
    faults: list[FaultLine]
    manual: list[ManualLine]


class SignatureOut(BaseModel):
    role: Signer
    label: str
    signer: str
    signed_at: Instant
    #: the SHA-256 of the content signed (the revision's)
    sha256: str


class DailyReport(DailyContent):
    """A revision of the daily monitoring report 监测日报表 and its signatures."""

    revision: int
    sha256: str
    generated_at: Instant
    generated_by: str
    #: signed at least once: its figures will not change any more
    frozen: bool
    signatures: list[SignatureOut]
    #: whose signature the report waits for (None: all signed)
    next_signer: Signer | None
    submitted_at: Instant | None
    #: the figures have changed since this revision was signed: regenerate for a new one
    stale: bool
    #: the day has not ended yet (not stored: provisional)
    provisional: bool
    #: production recorded while the mine's monitoring system was not accepted (未验收)
    unaccepted: bool = False


class RevisionOut(BaseModel):
    revision: int
    sha256: str
    generated_at: Instant
    generated_by: str
    frozen: bool
    signatures: list[SignatureOut]
    submitted_at: Instant | None


class RevisionList(BaseModel):
    mine: str
    day: date
    items: list[RevisionOut]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Signer


class PendingReport(BaseModel):
    mine: str
    name: str
    day: date
    revision: int
    next_signer: Signer


class PendingList(BaseModel):
    items: list[PendingReport]


class PeriodRow(Figure):
    """A row of a period report: a sub-period (hour, day, month) or a mine."""

    key: str
    label: str
    #: production of this row recorded while the mine's system was not accepted (未验收)
    unaccepted: bool = False
    #: false for an hour, a day or a month not begun when the report was made (its
    #: figures are zero: nothing could be produced yet)
    begun: bool = True


class PeriodReport(BaseModel):
    """A shift / ten-day 旬 / month / quarter / year report of a mine or an org."""

    kind: PeriodKind
    key: str
    title: str
    #: "mine" or "org"
    scope: Literal["mine", "org"]
    code: str
    name: str
    first_day: date
    last_day: date
    start: Instant
    end: Instant
    #: mine: one row per sub-period; org: one row per mine
    rows: list[PeriodRow]
    #: exact sums of the rows rounded once
    total: Figure
    computed_at: Instant
    #: the row keys (sub-periods or mines) with production while not accepted (未验收)
    unaccepted: list[str] = []
