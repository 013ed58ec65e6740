"""A mine's status now, for third parties and scripts (the pages have their dashboard)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from coalwatch.alarms import service as alarms
from coalwatch.alarms import thresholds
from coalwatch.alarms.schemas import AlarmOut
from coalwatch.auth.principal import Principal
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.faults import service as faults
from coalwatch.mines.service import visible_mine
from coalwatch.monitor import repository
from coalwatch.production import service as production
from coalwatch.status.schemas import MineStatusOut, PointStatus, StationStatus

#: open alarms listed at most (the newest)
MAX_ALARMS = 200


def _tonnes(kg: int | None) -> Decimal | None:
    return None if kg is None else kg_to_tonnes(kg)


def mine_status(session: Session, principal: Principal, code: str, now: datetime) -> MineStatusOut:
    mine, org = visible_mine(session, principal, code)
    limit = thresholds.for_point(session, mine.id, None).comm_loss_minutes
    stations = [
        StationStatus(
            code=station.code,
            last_seen_at=station.last_seen_at,
            online=station.last_seen_at is not None
            and now - station.last_seen_at <= timedelta(minutes=limit),
            acked_seq=station.max_seq,
        )
        for station in repository.stations_of(session, [mine.id])
    ]
    points = []
    for point in repository.points_of(session, [mine.id]):
        conveyor = repository.last_conveyor(session, point.id)
        sample = repository.last_sample(session, point.id)
        points.append(
            PointStatus(
                code=point.code,
                name=point.name,
                kind=point.kind,
                conveyor_running=None if conveyor is None else conveyor[1],
                conveyor_at=None if conveyor is None else conveyor[0],
                last_reading_at=None if sample is None else sample[0],
                last_total_t=_tonnes(point.last_total_kg),
                flow_tph=None if sample is None else _tonnes(sample[1]),
            )
        )
    fields = set(AlarmOut.model_fields)
    return MineStatusOut(
        mine=mine.code,
        name=mine.name,
        org=org.code,
        at=now,
        comm_loss_minutes=limit,
        stations=stations,
        points=points,
        active_alarms=[
            AlarmOut(**view.model_dump(include=fields))
            for view in alarms.open_alarms(session, [mine.id], MAX_ALARMS)
        ],
        open_faults=faults.list_faults(session, principal, mine.code, True, now),
        today=production.summary(session, principal, mine.code, None, now).day,
    )
