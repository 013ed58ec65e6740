"""Alarms 报警 and their lifecycle: active → acknowledged → handled → closed.

An alarm is raised once while its condition holds; its ``end`` is set when the
condition ends; it is closed when it has been handled (with a result) and its
condition has ended, whichever comes last. Every transition says who and when,
is published on the event stream and queued for the subscribed channels.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from coalwatch.alarms import repository
from coalwatch.alarms.models import Alarm
from coalwatch.alarms.schemas import AlarmOut, AlarmState, AlarmView, HandleIn
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import LABELS, SEVERITY, AlarmType, Severity, compose_detail, params_of
from coalwatch.domain.authority import SUPERVISING_KINDS
from coalwatch.errors import N_, Conflict, Forbidden, NotFound
from coalwatch.events.broker import emit
from coalwatch.federation import queue as forward_queue
from coalwatch.storage.models import Mine, Org, Station

MAX_LISTED = 1000
#: the event-stream path of the center's own alarms: below no org, so only whole-tree
#: subscribers see them
CENTER_PATH = "/"


def _payload(alarm: Alarm, mine: Mine | None, point: str | None, transition: str) -> dict[str, Any]:
    return {
        "transition": transition,
        "id": alarm.id,
        "type": alarm.type,
        "label": LABELS.get(AlarmType(alarm.type), alarm.type),
        "severity": alarm.severity,
        "mine": None if mine is None else mine.code,
        "mine_name": None if mine is None else mine.name,
        "point": point,
        "state": alarm.state,
        "start": alarm.start.isoformat(),
        "end": alarm.end.isoformat() if alarm.end else None,
        "value": alarm.value,
        "threshold": alarm.threshold,
        "detail": alarm.detail,
    }


def _announce(session: Session, alarm: Alarm, transition: str) -> None:
    """Publish a transition on the event stream and queue it for notification."""
    from coalwatch.alarms import notify  # the notifier needs the alarm's row first

    if alarm.mine_id is None:  # the center's own: on the whole tree's stream only
        emit(session, "alarm", CENTER_PATH, _payload(alarm, None, None, transition))
        return
    mine = session.get_one(Mine, alarm.mine_id)
    org = session.get_one(Org, mine.org_id)
    point = None
    if alarm.point_id is not None:
        from coalwatch.storage.models import Point

        point = session.get_one(Point, alarm.point_id).code
    emit(session, "alarm", org.path, _payload(alarm, mine, point, transition))
    notify.enqueue(session, alarm, mine, transition)
    if forward_queue.forwarding(session):
        _forward(session, alarm, mine, point, transition)


def _forward(
    session: Session, alarm: Alarm, mine: Mine, point: str | None, transition: str
) -> None:
    """The alarm as it is now, for the upstream to mirror (keyed by where it was raised)."""
    station = None
    if alarm.station_id is not None:
        station = session.get_one(Station, alarm.station_id).code
    times = [alarm.start, alarm.end, alarm.acknowledged_at, alarm.handled_at]
    forward_queue.enqueue(
        session,
        forward_queue.ALARM,
        {
            "origin": alarm.origin or f"{forward_queue.center_code(session)}:{alarm.id}",
            "transition": transition,
            "mine": mine.code,
            "point": point,
            "station": station,
            "params": alarm.params,
            **{name: _json(getattr(alarm, name)) for name in MIRRORED},
        },
        max(t for t in times if t is not None),
    )


#: the columns an upstream mirrors
MIRRORED = (
    "type",
    "severity",
    "start",
    "end",
    "value",
    "threshold",
    "detail",
    "state",
    "subject",
    "expires_at",
    "acknowledged_by",
    "acknowledged_at",
    "handled_by",
    "handled_at",
    "result",
)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _not_mirrored(alarm: Alarm) -> None:
    """A mirrored alarm changes at the center that raised it (one lifecycle, one place)."""
    if alarm.origin is not None:
        center = alarm.origin.rpartition(":")[0]
        raise Conflict(f"alarm {alarm.id} is mirrored from center {center!r}: it is handled there")


def announce(session: Session, alarm: Alarm, transition: str) -> None:
    """Publish, notify and forward a transition (of a mirrored alarm, say)."""
    _announce(session, alarm, transition)


def raise_alarm(
    session: Session,
    *,
    mine_id: int | None,
    type_: AlarmType | str,
    at: datetime,
    point_id: int | None = None,
    station_id: int | None = None,
    subject: str | None = None,
    value: str | None = None,
    threshold: str | None = None,
    detail: str | None = None,
    expires_at: datetime | None = None,
    severity: Severity | None = None,
    params: str | None = None,
) -> tuple[Alarm, bool]:
    """Raise an alarm unless the same condition is already alarmed; (alarm, raised now).

    ``params`` is the structured detail (``domain.alarms.detail_params``): the pages
    compose it in their reader's language; ``detail`` then keeps its Chinese text."""
    kind = AlarmType(type_)
    existing = repository.current(session, mine_id, kind, point_id, station_id, subject)
    if existing is None:
        alarm = _new_alarm(
            mine_id=mine_id,
            kind=kind,
            at=at,
            point_id=point_id,
            station_id=station_id,
            subject=subject,
            value=value,
            threshold=threshold,
            detail=detail,
            expires_at=expires_at,
            severity=severity,
            params=params,
        )
        # another transaction (a station of the same mine, the other center) may have
        # raised it since we looked: the unique index says so, and theirs is the alarm
        if repository.add_unless_open(session, alarm):
            _announce(session, alarm, "raised")
            return alarm, True
        existing = repository.current(session, mine_id, kind, point_id, station_id, subject)
        assert existing is not None, "refused as a duplicate, yet no open alarm to be found"
    if severity is not None and existing.severity != severity:
        existing.severity = severity  # e.g. a late fault report going from warning to violation
        existing.value, existing.threshold = value, threshold
        if params is not None:  # the detail says how late, too
            existing.params, existing.detail = params, detail or compose_detail(params)
        _announce(session, existing, "escalated")
    return existing, False


def _new_alarm(
    *,
    mine_id: int | None,
    kind: AlarmType,
    at: datetime,
    point_id: int | None,
    station_id: int | None,
    subject: str | None,
    value: str | None,
    threshold: str | None,
    detail: str | None,
    expires_at: datetime | None,
    severity: Severity | None,
    params: str | None,
) -> Alarm:
    return Alarm(
        mine_id=mine_id,
        point_id=point_id,
        station_id=station_id,
        type=kind.value,
        severity=(severity or SEVERITY[kind]).value,
        start=at,
        value=value,
        threshold=threshold,
        detail=detail if detail is not None or params is None else compose_detail(params),
        params=params,
        subject=subject,
        expires_at=expires_at,
        state="active",
    )


def end_alarm(session: Session, alarm: Alarm, at: datetime) -> None:
    """The condition has ended; a handled alarm closes now."""
    if alarm.end is not None:
        return
    alarm.end = max(at, alarm.start)
    if alarm.state == "handled":
        alarm.state = "closed"
    _announce(session, alarm, "ended" if alarm.state != "closed" else "closed")


def end_condition(
    session: Session,
    *,
    mine_id: int | None,
    type_: AlarmType,
    at: datetime,
    point_id: int | None = None,
    station_id: int | None = None,
    subject: str | None = None,
) -> Alarm | None:
    alarm = repository.current(session, mine_id, type_, point_id, station_id, subject)
    if alarm is not None:
        end_alarm(session, alarm, at)
    return alarm


def mines_with_open(session: Session, type_: AlarmType) -> set[int | None]:
    """The mines with an alarm of this type that has not ended."""
    return repository.mines_with_open(session, type_.value)


def end_expired(session: Session, now: datetime) -> int:
    """Conditions bound to a period (overproduction of an hour ...) end with it."""
    alarms = [a for a in repository.expired(session, now) if a.origin is None]
    for alarm in alarms:
        assert alarm.expires_at is not None
        end_alarm(session, alarm, alarm.expires_at)
    return len(alarms)


def _out(alarm: Alarm, mine: str | None, point: str | None) -> AlarmOut:
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
        params=params_of(alarm.params),
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


def _visible(
    session: Session, principal: Principal, alarm_id: int
) -> tuple[Alarm, str | None, str | None]:
    found = repository.with_codes(session, alarm_id)
    if found is None:
        raise NotFound(f"alarm {alarm_id} not found")
    alarm, mine, org, point = found
    # the center's own alarms (no mine) are for the whole tree's users
    if not (principal.sees(org.path) if org is not None else principal.scope_path is None):
        raise NotFound(f"alarm {alarm_id} not found")
    return alarm, None if mine is None else mine.code, point


def _require_supervising(session: Session, principal: Principal, alarm: Alarm) -> None:
    """数据篡改 is the regulator's to close: a user of a supervising unit (county and up,
    or the whole tree) handles it, never the mine's own staff."""
    if alarm.type != AlarmType.DATA_TAMPER or principal.scope_path is None:
        return
    if repository.org_kind(session, principal.scope_path) not in SUPERVISING_KINDS:
        raise Forbidden(
            N_("数据篡改报警只能由监管单位（县级及以上）处理"),
            {"permission": "alarm:handle", "decided_by": "supervising unit"},
        )


def acknowledge(session: Session, principal: Principal, alarm_id: int, now: datetime) -> AlarmOut:
    """确认: someone has seen the alarm."""
    principal.require("alarm:write")
    alarm, mine, point = _visible(session, principal, alarm_id)
    _not_mirrored(alarm)
    if alarm.state != "active":
        raise Conflict(f"alarm {alarm_id} is {alarm.state}, not active")
    alarm.state = "acknowledged"
    alarm.acknowledged_by = principal.name
    alarm.acknowledged_at = now
    _announce(session, alarm, "acknowledged")
    return _out(alarm, mine, point)


def acknowledge_many(
    session: Session, principal: Principal, alarm_ids: list[int], now: datetime
) -> list[AlarmOut]:
    """确认 several alarms at once, each as if acknowledged alone (announced one by one);
    all or none: one that may not be acknowledged refuses the whole request."""
    principal.require("alarm:write")
    return [acknowledge(session, principal, alarm_id, now) for alarm_id in dict.fromkeys(alarm_ids)]


def handle(
    session: Session, principal: Principal, alarm_id: int, data: HandleIn, now: datetime
) -> AlarmOut:
    """处理: the result is recorded; the alarm closes once its condition has ended."""
    principal.require("alarm:handle")
    alarm, mine, point = _visible(session, principal, alarm_id)
    _not_mirrored(alarm)
    _require_supervising(session, principal, alarm)
    if alarm.state == "active":
        raise Conflict(f"alarm {alarm_id} must be acknowledged before it is handled")
    if alarm.state in ("handled", "closed"):
        raise Conflict(f"alarm {alarm_id} is {alarm.state} already")
    alarm.handled_by = principal.name
    alarm.handled_at = now
    alarm.result = data.result.strip()
    alarm.state = "closed" if alarm.end is not None else "handled"
    _announce(session, alarm, alarm.state)
    return _out(alarm, mine, point)


#: what the console's state filter may ask for beyond one state
STATE_GROUPS: dict[str, tuple[str, ...]] = {
    "open": ("active", "acknowledged", "handled"),
    "todo": ("active", "acknowledged"),
}
MAX_PAGE = 10_000


def bell(session: Session, principal: Principal) -> tuple[int, int | None]:
    """报警铃: how many alarms in scope wait for acknowledgement, and the newest's id."""
    return repository.unacknowledged(session, principal.scope_path)


def browse(
    session: Session,
    principal: Principal,
    *,
    mine: str | None = None,
    type_: str | None = None,
    state: str | None = None,
    severity: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[AlarmView], int]:
    """One page of the alarms in scope, newest first, and how many there are in all."""
    states = STATE_GROUPS.get(state or "", (state,) if state else None)
    statement = repository.browse_query(
        principal.scope_path,
        mine=mine,
        type_=type_,
        states=states,
        severity=severity,
        start=start,
        end=end,
    )
    size = max(1, min(size, MAX_PAGE))
    rows, total = repository.browse(session, statement, (max(page, 1) - 1) * size, size)
    return [_view(alarm, code, name, point) for alarm, code, name, point in rows], total


def _view(alarm: Alarm, mine: str | None, mine_name: str | None, point: str | None) -> AlarmView:
    return AlarmView(
        **_out(alarm, mine, point).model_dump(),
        mine_name=mine_name or "",
        label=label(alarm.type),
    )


def label(type_: str) -> str:
    try:
        return LABELS.get(AlarmType(type_), type_)
    except ValueError:
        return type_


def open_alarms(session: Session, mine_ids: list[int], limit: int) -> list[AlarmView]:
    """The newest alarms not closed yet of these mines (already in the caller's scope)."""
    return [_view(*row) for row in repository.open_alarms(session, mine_ids, limit)]


def open_counts(session: Session, mine_ids: list[int]) -> dict[int, tuple[int, int]]:
    return repository.open_counts(session, mine_ids)


def get_alarm(session: Session, principal: Principal, alarm_id: int) -> AlarmView:
    alarm, mine, point = _visible(session, principal, alarm_id)
    found = repository.with_codes(session, alarm_id)
    assert found is not None
    return _view(alarm, mine, None if found[1] is None else found[1].name, point)
