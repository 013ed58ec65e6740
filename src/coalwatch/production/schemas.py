from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from coalwatch.domain.periods import Period
from coalwatch.schemas import NumberOut


class Figure(BaseModel):
    """One period's production: gross 毛煤 and raw 原煤, the manual part, and the
    capacity 生产能力 / plan 计划 it is compared with."""

    gross_t: NumberOut
    raw_t: NumberOut
    manual_t: NumberOut
    capacity_t: NumberOut | None
    #: the approved capacity before reductions 核减 (equal to capacity_t without any)
    approved_capacity_t: NumberOut | None
    plan_t: NumberOut | None
    #: 产能比 = raw / (plan or capacity)
    ratio: NumberOut | None
    #: raw > capacity (超产)
    over: bool
    #: 超产产量: raw − capacity when over
    excess_t: NumberOut | None


class Summary(BaseModel):
    mine: str
    at: datetime
    hour: Figure
    day: Figure
    month: Figure
    year: Figure
    #: the state of the mine's monitoring system at ``at`` (验收): production of a mine
    #: not accepted is flagged (未验收)
    acceptance: Literal["under_construction", "accepted", "suspended"] = "accepted"
    accepted: bool = True


class PeriodFigure(Figure):
    start: datetime


class MineProduction(BaseModel):
    mine: str
    name: str
    items: list[PeriodFigure]
    total: Figure | None = None


class Production(BaseModel):
    period: Period
    items: list[PeriodFigure]
    #: the whole range: exact sums rounded once; capacity and plan summed over the periods
    total: Figure | None = None


class OrgProduction(Production):
    org: str
    mines: list[MineProduction]
