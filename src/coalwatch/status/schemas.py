from __future__ import annotations

from pydantic import BaseModel

from coalwatch.alarms.schemas import AlarmOut
from coalwatch.faults.schemas import FaultOut
from coalwatch.production.schemas import Figure
from coalwatch.schemas import Instant, NumberOut


class StationStatus(BaseModel):
    """A station 主站 and its link to the center."""

    code: str
    #: when its last record (of any kind, heartbeats included) arrived
    last_seen_at: Instant | None
    #: seen within the mine's communication-loss threshold (通信中断, 3 min by default)
    online: bool
    #: the highest seq below which the center holds every record (or knows it missing)
    acked_seq: int


class PointStatus(BaseModel):
    """A metering point 计量点: its conveyor and its latest weighing."""

    code: str
    name: str
    kind: str
    #: the conveyor's state in its last conveyor record; None: none received yet
    conveyor_running: bool | None
    conveyor_at: Instant | None
    #: the time of the latest weighing record (totalizer sample or trip)
    last_reading_at: Instant | None
    #: a belt scale's latest totalizer reading (t); None for trip conveyances
    last_total_t: NumberOut | None
    #: a belt scale's instantaneous flow in the latest sample (t/h)
    flow_tph: NumberOut | None


class MineStatusOut(BaseModel):
    """A mine now: links, conveyors, what is wrong, and today's production so far."""

    mine: str
    name: str
    org: str
    at: Instant
    comm_loss_minutes: int
    stations: list[StationStatus]
    points: list[PointStatus]
    #: alarms not closed yet (active, acknowledged, or handled while the condition lasts)
    active_alarms: list[AlarmOut]
    #: fault records not closed yet
    open_faults: list[FaultOut]
    #: 当天产量: from local midnight until now
    today: Figure
