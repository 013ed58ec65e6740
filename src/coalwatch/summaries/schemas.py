"""The content and the answers of the summaries upward."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from coalwatch.domain.reports import Signer
from coalwatch.production.schemas import Figure
from coalwatch.reports.schemas import PeriodRow, SignatureOut
from coalwatch.schemas import Instant, NumberOut


class SummaryAlarm(BaseModel):
    """An alarm of the period and its handling 处理情况."""

    type: str
    label: str
    severity: str
    point: str | None
    start: Instant
    #: None while it went on past the period's end
    end: Instant | None
    value: str | None
    threshold: str | None
    state: str
    acknowledged_by: str | None
    acknowledged_at: Instant | None
    handled_by: str | None
    handled_at: Instant | None
    result: str | None


class SummaryFault(BaseModel):
    """A fault of the period, its report upward and its handling."""

    kind: str
    point: str | None
    phenomenon: str
    occurred_at: Instant
    reported_at: Instant | None
    reported_by: str | None
    recovered_at: Instant | None
    result: str | None
    #: 核减 for a fault not reported within 2 h
    reduction_t: NumberOut | None


class AlarmCount(BaseModel):
    type: str
    label: str
    count: int
    handled: int


class SummaryContent(BaseModel):
    """What a summary says, frozen per revision (its JSON text is what is signed)."""

    kind: str
    title: str
    period: str
    mine: str
    name: str
    org: str
    org_name: str
    first_day: date
    last_day: date
    timezone: str
    #: production per day (month) or per month (year); none in the abnormal report
    rows: list[PeriodRow]
    total: Figure | None
    alarms: list[SummaryAlarm]
    alarm_counts: list[AlarmCount]
    faults: list[SummaryFault]
    #: alarms handled (a result written) of those in the period
    alarms_handled: int
    faults_recovered: int
    reduction_t: NumberOut


class SummaryReport(SummaryContent):
    revision: int
    sha256: str
    generated_at: Instant
    generated_by: str
    signatures: list[SignatureOut]
    next_signer: Signer | None
    submitted_at: Instant | None
    #: the figures changed after this revision was signed: regenerate it
    stale: bool
    #: the period has not ended: shown, not stored, not signable
    provisional: bool


class SummarySignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Signer


class ReceivedSummaryOut(BaseModel):
    mine: str
    kind: str
    period: str
    revision: int
    sha256: str
    signatures: list[dict[str, str]]
    submitted_at: Instant
    received_at: Instant
    content: SummaryContent


class ReceivedSummaryList(BaseModel):
    items: list[ReceivedSummaryOut]
