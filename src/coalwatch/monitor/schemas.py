from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from coalwatch.alarms.schemas import AlarmView
from coalwatch.production.schemas import Figure, PeriodFigure, Summary


class PointState(BaseModel):
    """A metering point 计量点 and its conveyor 输煤设备 now."""

    code: str
    name: str
    kind: str
    #: None: no conveyor state received yet
    running: bool | None
    conveyor_at: datetime | None
    #: instantaneous flow of a belt scale (t/h)
    flow_tph: Decimal | None
    last_sample_at: datetime | None


class StationState(BaseModel):
    code: str
    last_seen_at: datetime | None
    online: bool


class MineStatus(BaseModel):
    code: str
    name: str
    org: str
    org_name: str
    summary: Summary
    points: list[PointState]
    stations: list[StationState]
    alarms_open: int
    alarms_unacked: int
    #: the state of the mine's monitoring system (验收); production shows 未验收 unless
    acceptance: str = "accepted"

    @property
    def accepted(self) -> bool:
        return self.acceptance == "accepted"

    @property
    def online(self) -> bool:
        return bool(self.stations) and all(s.online for s in self.stations)


class Overview(BaseModel):
    at: datetime
    mines: list[MineStatus]
    #: mines in scope that are not shown (the dashboard shows a few; the region view all)
    more: int
    total: dict[str, Figure]
    alarms: list[AlarmView]
    stations_online: int
    stations_total: int
    alarms_open: int
    alarms_unacked: int


class Wall(BaseModel):
    overview: Overview
    hours: list[PeriodFigure]


class RecordRow(BaseModel):
    """One record as a station sent it (实时数据)."""

    seq: int
    ts: datetime
    type: str
    point: str | None
    value_t: Decimal | None
    increment_t: Decimal | None
    flow_tph: Decimal | None
    running: bool | None
    event: str | None
    detail: str | None
