from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from coalwatch.domain.settlement import parse_rate
from coalwatch.schemas import Code, Instant, Name, NumberOut
from coalwatch.wire.types import Day

#: far above any fee per tonne, far inside 64-bit 1/10,000 yuan
MAX_RATE = Decimal(1_000_000)

#: yuan per tonne of raw coal: non-negative, at most 4 decimals, never rounded
RateIn = Annotated[
    Decimal, Field(allow_inf_nan=False, ge=0, le=MAX_RATE), AfterValidator(parse_rate)
]
Format = Literal["json", "csv", "xlsx", "pdf"]
#: an exact figure written as a decimal string ("1501.8518505"): raw tonnes have up to
#: 7 decimals, more than a JSON number is sure to carry through a binary float
ExactOut = Annotated[
    Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json")
]


class FeeItemIn(BaseModel):
    """A fee or tax item 收费项目, charged per tonne of raw coal."""

    model_config = ConfigDict(extra="forbid")
    code: Code
    #: as printed on statements: 资源税, 煤炭价格调节基金, 可持续发展基金 ...
    name: Name
    description: Annotated[str, Field(max_length=2000)] | None = None


class FeeRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: yuan per tonne of raw coal 原煤, at most 4 decimals (a number or a decimal string)
    yuan_per_t: RateIn
    #: in force from this day on (the mine's calendar day), until a later rate starts
    effective_from: Day


class FeeRateOut(BaseModel):
    yuan_per_t: NumberOut
    effective_from: date
    created_by: str
    created_at: Instant


class FeeItemOut(BaseModel):
    code: str
    name: str
    description: str | None
    #: every rate given, oldest first; of two on one date the later given is in force
    rates: list[FeeRateOut]


class FeeItemList(BaseModel):
    items: list[FeeItemOut]


class StatementLine(BaseModel):
    """One fee item over a stretch of days with one rate."""

    item: str
    name: str
    first_day: date
    last_day: date
    yuan_per_t: NumberOut
    #: the raw tonnes of these days, rounded to 3 decimals as every tonne figure
    raw_t: NumberOut
    #: the exact raw tonnes (up to 7 decimals): the amount is computed from this
    raw_t_exact: ExactOut
    #: raw_t_exact × yuan_per_t, rounded half-up to the fen (0.01 yuan)
    amount: NumberOut


class CoefficientUsed(BaseModel):
    """A deduction coefficient 折算系数 in force on some days of the month."""

    first_day: date
    last_day: date
    percent: NumberOut


class DayBasis(BaseModel):
    day: date
    gross_t: NumberOut
    raw_t: NumberOut
    raw_t_exact: ExactOut
    manual_t: NumberOut


class Basis(BaseModel):
    """The monitored production the statement is computed from."""

    #: 毛煤, to the kg
    gross_t: NumberOut
    #: 原煤 = gross × (1 − k) day by day, rounded to 3 decimals
    raw_t: NumberOut
    raw_t_exact: ExactOut
    #: the part of gross entered by hand 人工录入 (included in gross)
    manual_t: NumberOut
    coefficients: list[CoefficientUsed]
    days: list[DayBasis]


class Statement(BaseModel):
    """A mine's monthly settlement statement 月结算单."""

    mine: str
    name: str
    org: str
    org_name: str
    #: YYYY-MM, in the mine's time zone
    month: str
    first_day: date
    last_day: date
    timezone: str
    currency: Literal["CNY"] = "CNY"
    #: the month has ended (in the mine's time zone): later uploads of its records may still
    #: change it, so a statement of the running month is provisional
    complete: bool
    computed_at: Instant
    basis: Basis
    lines: list[StatementLine]
    #: the sum of the lines' amounts
    total: NumberOut
    rounding: str


class ItemAmount(BaseModel):
    item: str
    amount: NumberOut


class OrgStatementRow(BaseModel):
    mine: str
    name: str
    gross_t: NumberOut
    raw_t: NumberOut
    raw_t_exact: ExactOut
    manual_t: NumberOut
    #: per fee item (every item of the statement, zero where nothing was charged)
    amounts: list[ItemAmount]
    total: NumberOut


class OrgStatementTotal(BaseModel):
    gross_t: NumberOut
    raw_t: NumberOut
    raw_t_exact: ExactOut
    manual_t: NumberOut
    amounts: list[ItemAmount]
    total: NumberOut


class ItemName(BaseModel):
    code: str
    name: str


class OrgStatement(BaseModel):
    """The month's statements of every mine of a subtree, one row per mine, and the sums."""

    org: str
    name: str
    month: str
    currency: Literal["CNY"] = "CNY"
    computed_at: Instant
    items: list[ItemName]
    mines: list[OrgStatementRow]
    total: OrgStatementTotal
    rounding: str
