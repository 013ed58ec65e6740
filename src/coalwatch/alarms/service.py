"""Alarms 报警: raising (once while the condition holds), listing, acknowledging, handling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from coalwatch.alarms import repository
from coalwatch.alarms.schemas import AlarmOut, AlarmState, HandleIn
from coalwatch.auth.principal import Principal
from coalwatch.errors import Conflict, NotFound
from coalwatch.storage.models import Alarm

SEVERITY = {
    "invalid_data": "warning",
    "sequence_gap": "warning",
    "clock_skew": "warning",
    "parameter_change": "major",
}
MAX_LISTED = 1000


def raise_alarm(
    session: Session,
    *,
    mine_id: int,
    type_: str,
    at: datetime,
    point_id: int | None = None,
    station_id: int | None = None,
    value: str | None = None,
    threshold: str | None = None,
    detail: str | None = None,
) -> Alarm:
    """Raise an alarm, unless the same one is still open: an alarm is not raised twice."""
    existing = repository.open_alarm(session, mine_id, type_, point_id, station_id)
    if existing is not None:
        return existing
    alarm = Alarm(
        mine_id=mine_id,
        point_id=point_id,
        station_id=station_id,
        type=type_,
        severity=SEVERITY.get(type_, "major"),
        start=at,
        value=value,
        threshold=threshold,
        detail=detail,
        state="active",
    )
    repository.add(session, alarm)
    return alarm


def _out(alarm: Alarm, mine: str, point: str | None) -> AlarmOut:
    return AlarmOut(
        id=alarm.id,
        type=alarm.type,
        severity=alarm.severity,
        mine=mine,
        point=point,
        start=alarm.start,
        end=alarm.end,
        value=alarm.value,
        threshold=alarm.threshold,
        detail=alarm.detail,
        state=alarm.state,
        acknowledged_by=alarm.acknowledged_by,
        acknowledged_at=alarm.acknowledged_at,
        handled_by=alarm.handled_by,
        handled_at=alarm.handled_at,
        result=alarm.result,
    )


def list_alarms(
    session: Session,
    principal: Principal,
    *,
    mine: str | None = None,
    type_: str | None = None,
    state: AlarmState | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[AlarmOut]:
    statement = repository.query(principal.scope_path, mine, type_, state, start, end)
    return [_out(*row) for row in repository.listed(session, statement, MAX_LISTED)]


def _visible(session: Session, principal: Principal, alarm_id: int) -> tuple[Alarm, str]:
    found = repository.by_id(session, alarm_id)
    if found is None or not principal.sees(found[2]):
        raise NotFound(f"alarm {alarm_id} not found")
    return found[0], found[1]


def acknowledge(session: Session, principal: Principal, alarm_id: int, now: datetime) -> AlarmOut:
    principal.require_write()
    alarm, mine = _visible(session, principal, alarm_id)
    if alarm.state != "active":
        raise Conflict(f"alarm {alarm_id} is {alarm.state}, not active")
    alarm.state = "acknowledged"
    alarm.acknowledged_by = principal.name
    alarm.acknowledged_at = now
    return _out(alarm, mine, None)


def handle(
    session: Session, principal: Principal, alarm_id: int, data: HandleIn, now: datetime
) -> AlarmOut:
    principal.require_write()
    alarm, mine = _visible(session, principal, alarm_id)
    if alarm.state == "active":
        raise Conflict(f"alarm {alarm_id} must be acknowledged before it is handled")
    if alarm.state in ("handled", "closed"):
        raise Conflict(f"alarm {alarm_id} is {alarm.state} already")
    alarm.state = "handled"
    alarm.handled_by = principal.name
    alarm.handled_at = now
    alarm.result = data.result
    return _out(alarm, mine, None)
