"""Applications waiting for approval: coefficient applications 折算系数申报 and manual
production entries 人工录入."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Instant, NumberOut
from coalwatch.wire.types import Day

Status = Literal["pending", "approved", "rejected"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected")
Kind = Literal["half_year", "change"]
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CoefficientApplicationIn(_In):
    """A mine applies for a coefficient: for a half-year (1 Jan–30 Jun or 1 Jul–31 Dec), or
    after a change of geology or mining method (``kind`` "change", with ``changed_on``,
    within 15 days; in force from ``effective_from`` or the day of approval to the end of
    that half-year). Above 10 % a site measurement of the gangue is required."""

    kind: Kind = "half_year"
    percent: Annotated[Decimal, Field(ge=0, lt=100, allow_inf_nan=False)]
    effective_from: Day | None = None
    effective_to: Day | None = None
    changed_on: Day | None = None
    #: the analysis of the gangue sources 影响因素分析 (geology, mining method, others)
    analysis: Text
    #: the site measurement 现场实地测算 (report number or summary): required above 10 %
    site_measurement: Annotated[str, Field(max_length=2000)] | None = None


class RejectIn(_In):
    reason: Text


class CoefficientApplicationOut(BaseModel):
    id: int
    mine: str
    mine_name: str
    kind: Kind
    percent: NumberOut
    effective_from: Day | None
    effective_to: Day | None
    changed_on: Day | None
    analysis: str
    site_measurement: str | None
    filed_on: Day
    #: filed in its application month (December / June); False: late
    on_time: bool
    status: Status
    applied_by: str
    applied_at: Instant
    decided_by: str | None
    decided_at: Instant | None
    decision_note: str | None
    #: the days in force, once approved
    approved_from: Day | None
    approved_to: Day | None


class CoefficientApplicationList(BaseModel):
    items: list[CoefficientApplicationOut]
    total: int


class ManualEntryOut(BaseModel):
    id: int
    mine: str
    mine_name: str
    point: str
    start: Instant
    end: Instant
    gross_t: NumberOut
    reason: str
    status: Status
    applied_by: str
    applied_at: Instant
    decided_by: str | None
    decided_at: Instant | None
    decision_note: str | None
    #: measured production lies in the window (to be reviewed before approval)
    overlaps_measured: bool


class ManualEntryList(BaseModel):
    items: list[ManualEntryOut]
    total: int


RequestKind = Literal["capacity", "plan", "permit"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("capacity", "plan", "permit")


class RequestOut(BaseModel):
    """A mine's request for a yardstick a supervising unit decides (``kind``: capacity
    change, month plan, maintenance permit); ``detail`` is what was asked for."""

    id: int
    mine: str
    mine_name: str
    kind: RequestKind
    #: the permission of the supervising unit that decides it
    decided_with: str
    detail: dict[str, Any]
    status: Status
    applied_by: str
    applied_at: Instant
    decided_by: str | None
    decided_at: Instant | None
    decision_note: str | None


class RequestList(BaseModel):
    items: list[RequestOut]
    total: int
