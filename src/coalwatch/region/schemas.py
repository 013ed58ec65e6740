"""The regulator's views: production by sub-region and mine, the ranking by capacity
ratio, and the reporting status of faults and daily reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from coalwatch.domain.periods import Period
from coalwatch.faults.schemas import FaultOut
from coalwatch.production.schemas import Figure
from coalwatch.schemas import NumberOut


class RegionRow(BaseModel):
    #: total: the whole region; org: a sub-region's subtotal; mine: one mine
    kind: Literal["total", "org", "mine"]
    code: str
    name: str
    #: the sub-region a mine row belongs to (None: directly in the region)
    parent: str | None
    figure: Figure
    #: a mine's production of the range recorded while its system was not accepted (未验收)
    unaccepted: bool = False


class RegionProduction(BaseModel):
    org: str
    name: str
    period: Period
    start: datetime
    end: datetime
    rows: list[RegionRow]


class RankedMine(BaseModel):
    rank: int
    mine: str
    name: str
    org: str
    org_name: str
    raw_t: NumberOut
    capacity_t: NumberOut | None
    plan_t: NumberOut | None
    #: raw / (plan or capacity) over the range; None without either (ranked last)
    ratio: NumberOut | None
    over: bool
    alarms_open: int
    #: the state of the mine's monitoring system now (验收), and whether production of
    #: the range was recorded while it was not accepted (未验收)
    acceptance: str = "accepted"
    unaccepted: bool = False
    #: penalty decisions not yet executed, and all of them (违法处罚)
    penalties_open: int = 0
    penalties: int = 0


class Ranking(BaseModel):
    org: str
    period: Period
    start: datetime
    end: datetime
    items: list[RankedMine]


class ReportState(BaseModel):
    mine: str
    name: str
    day: date
    #: submitted 已上报 | pending 待签 (before the deadline) | overdue 逾期未报
    state: Literal["submitted", "pending", "overdue"]
    revision: int | None
    sha256: str | None
    submitted_at: datetime | None
    #: when it arrived here (a mine whose own center submits it upward)
    received_at: datetime | None
    deadline: datetime


class ReportStateList(BaseModel):
    org: str
    day: date
    items: list[ReportState]


class RegionFaults(BaseModel):
    org: str
    #: open faults, with their 1 h / 2 h reporting status
    open: list[FaultOut]
    #: faults of the last 31 days not reported in time (open or closed)
    late: list[FaultOut]
    #: yesterday's daily reports (mine-local) not submitted by the deadline
    reports: ReportStateList
