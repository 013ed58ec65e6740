"""The ledgers' input and output: equipment, maintenance, calibrations, UPS tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coalwatch.domain.records import EquipmentKind, EquipmentStatus, MaintenanceKind, ScrapCriterion
from coalwatch.schemas import Code, Instant, Name, NumberOut, TonnesIn
from coalwatch.wire.types import Day, Moment

Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]
Note = Annotated[str, Field(max_length=4000)]
Short = Annotated[str, Field(max_length=200)]
CertificateNo = Annotated[str, Field(max_length=100)]
#: an interval value 间隔值 (a positive decimal, as the instrument shows it)
Interval = Annotated[
    Decimal, Field(gt=0, le=10**9, max_digits=40, decimal_places=34, allow_inf_nan=False)
]
#: yuan with at most 2 decimals (kept as integer fen)
Yuan = Annotated[
    Decimal, Field(ge=0, le=10**12, max_digits=16, decimal_places=2, allow_inf_nan=False)
]
#: minutes on backup power, up to a week
Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]


# ---- equipment 设备仪表台账 ----------------------------------------------------------------


class EquipmentIn(BaseModel):
    """An item of the equipment ledger, or its new content (a scrapped one is not changed)."""

    model_config = ConfigDict(extra="forbid")
    kind: EquipmentKind
    name: Name
    point: Code | None = None
    model: Short | None = None
    manufacturer: Short | None = None
    serial: Short | None = None
    #: 矿用产品安全标志编号 (MA)
    ma_mark: CertificateNo | None = None
    #: 防爆合格证编号
    ex_certificate: CertificateNo | None = None
    installed_on: Day | None = None
    #: in_use, standby or repair (scrapping has an act of its own)
    status: EquipmentStatus = EquipmentStatus.IN_USE
    note: Note | None = None

    @model_validator(mode="after")
    def _not_scrapped(self) -> EquipmentIn:
        if self.status is EquipmentStatus.SCRAPPED:
            raise ValueError("status: an item is scrapped by the scrap act, with a criterion")
        return self


class ScrapIn(BaseModel):
    """报废: one of the seed's criteria, when, and why."""

    model_config = ConfigDict(extra="forbid")
    criterion: ScrapCriterion
    scrapped_on: Day
    note: Note | None = None
    #: for the repair-cost criterion: one repair's cost and the original value (yuan)
    repair_cost: Yuan | None = None
    original_value: Yuan | None = None


class EquipmentOut(BaseModel):
    id: int
    mine: str
    point: str | None
    kind: str
    name: str
    model: str | None
    manufacturer: str | None
    serial: str | None
    ma_mark: str | None
    ex_certificate: str | None
    installed_on: date | None
    status: str
    note: str | None
    scrap_criterion: str | None
    scrapped_on: date | None
    scrapped_by: str | None
    scrap_note: str | None
    repair_cost: NumberOut | None
    original_value: NumberOut | None
    created_by: str
    created_at: Instant
    updated_at: Instant


# ---- maintenance 检修记录 ------------------------------------------------------------------


class MaintenanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: MaintenanceKind
    #: what was done
    content: Text
    equipment: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    point: Code | None = None
    start: Moment
    end: Moment | None = None
    performed_by: Name
    result: Note | None = None

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceIn:
        if self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class MaintenanceOut(BaseModel):
    id: int
    mine: str
    kind: str
    content: str
    equipment: int | None
    equipment_name: str | None
    point: str | None
    start: Instant
    end: Instant | None
    performed_by: str
    result: str | None
    #: when the next one of this kind falls due (monthly: a month on; yearly 年检: a year)
    next_due: date | None
    recorded_by: str


# ---- calibrations 调校记录 -----------------------------------------------------------------


class CalibrationRecordIn(BaseModel):
    """A physical calibration of a belt scale: the first run gives the new interval value;
    a second run (now or later, by confirm) confirms it before it is written."""

    model_config = ConfigDict(extra="forbid")
    point: Code
    #: the day of the first run
    calibrated_on: Day
    old_interval: Interval
    first_actual_t: TonnesIn
    first_indicated_t: TonnesIn
    second_actual_t: TonnesIn | None = None
    second_indicated_t: TonnesIn | None = None
    #: the day of the confirming run (default: the first run's day)
    confirmed_on: Day | None = None
    calibrated_by: Name
    witness: Short | None = None
    written_to_instrument: bool = False
    note: Note | None = None

    @model_validator(mode="after")
    def _second_run_whole(self) -> CalibrationRecordIn:
        if (self.second_actual_t is None) != (self.second_indicated_t is None):
            raise ValueError("the second run needs both its actual and its indicated weight")
        if self.confirmed_on is not None and self.second_actual_t is None:
            raise ValueError("confirmed_on needs the second run")
        return self


class ConfirmIn(BaseModel):
    """The confirming second run of a pending calibration."""

    model_config = ConfigDict(extra="forbid")
    second_actual_t: TonnesIn
    second_indicated_t: TonnesIn
    confirmed_on: Day
    written_to_instrument: bool = False


class CalibrationRecordOut(BaseModel):
    id: int
    mine: str
    point: str
    #: "confirmed", "pending" (no confirming run yet: it does not count), or "recorded"
    #: (entered without its runs)
    status: str
    #: the day the 15 days count from (pending: the first run's day)
    calibrated_on: date
    first_run_on: date | None
    old_interval: str | None
    first_actual_t: NumberOut | None
    first_indicated_t: NumberOut | None
    #: (indicated − actual) / actual × 100 of the first run, exact
    error_percent: str | None
    #: actual / indicated × old, exact (28 significant digits)
    new_interval: str | None
    second_actual_t: NumberOut | None
    second_indicated_t: NumberOut | None
    second_error_percent: str | None
    calibrated_by: str | None
    witness: str | None
    written_to_instrument: bool | None
    #: the last day before it is overdue (None while pending)
    due_on: date | None
    note: str | None
    recorded_by: str


# ---- UPS tests ---------------------------------------------------------------------------


class UpsTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tested_at: Moment
    minutes_on_backup: Minutes
    equipment: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    tested_by: Name
    note: Note | None = None


class UpsTestOut(BaseModel):
    id: int
    mine: str
    equipment: int | None
    equipment_name: str | None
    tested_at: Instant
    minutes_on_backup: int
    #: at least 15 minutes on backup power
    passed: bool
    tested_by: str
    note: str | None
    recorded_by: str


# ---- lists -------------------------------------------------------------------------------

Item = TypeVar("Item", bound=BaseModel)


class Paged(BaseModel, Generic[Item]):
    items: list[Item]
    total: int
    page: int
    size: int


class EquipmentList(Paged[EquipmentOut]):
    pass


class MaintenanceList(Paged[MaintenanceOut]):
    pass


class CalibrationList(Paged[CalibrationRecordOut]):
    pass


class UpsTestList(Paged[UpsTestOut]):
    pass
