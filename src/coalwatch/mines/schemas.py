from __future__ import annotations

from datetime import date as datetime_date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coalwatch.domain.limits import MAX_FLOW_TPH
from coalwatch.schemas import (
    CapacityTonnesIn,
    Code,
    Instant,
    MinTripTonnesIn,
    Name,
    NumberOut,
    TonnesIn,
    WindowTonnesIn,
)
from coalwatch.wire.types import Day, Moment

PointKind = Literal["belt", "skip", "mine_car", "tyred_vehicle", "truck"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MineIn(_In):
    code: Code
    name: Name
    org: Code
    annual_capacity_t: CapacityTonnesIn
    timezone: str | None = None
    #: when the initial capacity is in force from (default: from the start)
    capacity_effective_from: Day | None = None


#: a licence document's number 核定文件文号 (e.g. 晋煤行审〔2026〕12号)
LicenceNo = Annotated[str, Field(min_length=1, max_length=200)]


class CapacityIn(_In):
    """A change of the approved capacity, decided by a supervising unit, with the licence
    document that decided it (its number and date)."""

    annual_capacity_t: CapacityTonnesIn
    effective_from: Day
    licence_no: LicenceNo | None = None
    licence_date: Day | None = None


class LicensedCapacityIn(CapacityIn):
    """A capacity change that names its licence document (a mine's request, the page)."""

    licence_no: LicenceNo
    licence_date: Day


class PlanIn(_In):
    month_t: CapacityTonnesIn
    day_t: CapacityTonnesIn | None = None
    hour_t: CapacityTonnesIn | None = None


class MonthPlanIn(PlanIn):
    """A month's plan with its month (YYYY-MM): a mine's submission, the page."""

    month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class CoefficientIn(_In):
    percent: Annotated[Decimal, Field(ge=0, lt=100, allow_inf_nan=False)]
    effective_from: Day
    effective_to: Day

    @model_validator(mode="after")
    def _ordered(self) -> CoefficientIn:
        if self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


#: a belt's maximum flow (t/h), to the kilogram
FlowIn = Annotated[TonnesIn, Field(gt=0, le=MAX_FLOW_TPH)]


class PointIn(_In):
    code: Code
    name: Name
    kind: PointKind
    rollover_t: TonnesIn | None = None
    #: the most the belt carries (its design capacity or the instrument's rate range):
    #: an increment beyond it over the time between two readings is held as suspect
    max_flow_tph: FlowIn | None = None
    min_trip_t: MinTripTonnesIn | None = None
    window_min: Annotated[int, Field(ge=1, le=1440)] | None = None
    window_min_t: WindowTonnesIn | None = None


class StationIn(_In):
    code: Code
    public_key: Annotated[str, Field(min_length=1, max_length=64)]


class ManualProductionIn(_In):
    point: Code
    start: Moment
    end: Moment
    gross_t: TonnesIn
    reason: Annotated[str, Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _ordered(self) -> ManualProductionIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PointOut(BaseModel):
    code: str
    name: str
    kind: str
    rollover_t: NumberOut | None
    max_flow_tph: NumberOut | None = None
    min_trip_t: NumberOut | None
    window_min: int | None
    window_min_t: NumberOut | None


class StationOut(BaseModel):
    code: str
    public_key: str
    acked_seq: int
    last_seen_at: Instant | None


class MineOut(BaseModel):
    code: str
    name: str
    org: str
    timezone: str
    annual_capacity_t: NumberOut | None
    points: list[PointOut]
    stations: list[StationOut]


class MineList(BaseModel):
    items: list[MineOut]


class CapacityOut(BaseModel):
    mine: str
    annual_capacity_t: NumberOut
    effective_from: Day
    licence_no: str | None = None
    licence_date: Day | None = None
    decided_by: str | None = None


class PlanOut(BaseModel):
    mine: str
    month: str
    month_t: NumberOut
    day_t: NumberOut | None
    hour_t: NumberOut | None


class CoefficientOut(BaseModel):
    mine: str
    percent: NumberOut
    effective_from: Day
    effective_to: Day


class ManualProductionOut(BaseModel):
    id: int
    mine: str
    point: str
    start: Instant
    end: Instant
    gross_t: NumberOut
    reason: str
    entered_by: str
    approved_by: str | None
    overlaps_measured: bool


class ReductionOut(BaseModel):
    effective_from: Day
    amount_t: NumberOut
    reason: str
    #: "pending" and "confirmed" lower the capacity, "waived" does not
    status: str = "confirmed"


class CapacityRow(BaseModel):
    annual_capacity_t: NumberOut
    #: None: in force from the start
    effective_from: datetime_date | None
    licence_no: str | None = None
    licence_date: datetime_date | None = None
    decided_by: str | None = None


class MineConfig(BaseModel):
    """Everything configured for one mine (the configuration pages)."""

    mine: MineOut
    capacities: list[CapacityRow]
    reductions: list[ReductionOut]
    plans: list[PlanOut]
    coefficients: list[CoefficientOut]
    manual: list[ManualProductionOut]
