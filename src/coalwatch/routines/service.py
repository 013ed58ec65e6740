"""Routine checks 定期检查 with their due dates: recording one, the board of what is due,
overdue and done per mine (and for a supervising unit, per mine of its subtree), and the
``routine_overdue`` alarm. The schedule and the UPS verdict are in ``domain.routines``.

A mine joins the schedule with its first routine record: from then on every routine is
due from the later of its last record and that day (a mine that has recorded none is
shown on the board, not alarmed). The half-monthly calibration of the belt scales is on
the board too (its alarm stays ``calibration_overdue``); two calibrations in a row whose
error is beyond the scale's accuracy halve its interval, as the maintenance rules say.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.alarms import service as alarms
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import calibration as calibration_rules
from coalwatch.domain import routines as rules
from coalwatch.domain.alarms import AlarmType, detail_params
from coalwatch.errors import Invalid
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.orgs.repository import mines_under
from coalwatch.people.service import require_certified
from coalwatch.records.models import Calibration
from coalwatch.routines import repository
from coalwatch.routines.models import RoutineRecord
from coalwatch.routines.schemas import Board, BoardItem, RoutineIn, RoutineList, RoutineOut
from coalwatch.storage.models import Mine, Org

#: a time written ahead of the center's clock by more than this is refused
FUTURE_SECONDS = 60


def _out(row: RoutineRecord, mine: Mine, point: str | None) -> RoutineOut:
    return RoutineOut(
        id=row.id,
        mine=mine.code,
        point=point,
        kind=row.kind,
        done_at=row.done_at,
        before=row.before,
        after=row.after,
        minutes=row.minutes,
        verdict=row.verdict,
        findings=row.findings,
        performed_by=row.performed_by,
        taken_back_by=row.taken_back_by,
        recorded_by=row.recorded_by,
    )


def record(
    session: Session, principal: Principal, code: str, data: RoutineIn, now: datetime
) -> RoutineOut:
    """A routine check done, signed by the one who did it and the operator who took the
    equipment back (双方签字); a UPS runtime test says whether the batteries are replaced."""
    principal.require("ledger:write")
    mine, org = visible_mine(session, principal, code)
    require_certified(session, principal, org, mine, "maintenance", now)
    routine = rules.BY_CODE[data.kind]
    done_at = data.done_at or now
    if (done_at - now).total_seconds() > FUTURE_SECONDS:
        raise Invalid(f"{done_at.isoformat()} is in the future")
    point = mine_point(session, mine, data.point) if data.point else None
    if routine.per_point and point is None:
        raise Invalid(f"a {data.kind} record names the point checked")
    performed_by = data.performed_by or principal.name
    if data.taken_back_by == performed_by:
        raise Invalid("the operator who takes the equipment back is not the one who did the check")
    verdict = None
    if data.kind == "ups_runtime":
        if data.minutes is None:
            raise Invalid("a UPS runtime test gives the minutes the equipment ran on battery")
        verdict = rules.ups_verdict(data.minutes).value
    if data.kind in rules.INSPECTION_CHAIN[1:]:
        before = rules.INSPECTION_CHAIN[rules.INSPECTION_CHAIN.index(data.kind) - 1]
        last = repository.last_done(session, mine.id).get((before, None))
        if last is None or (done_at - last).days > 366:
            raise Invalid(
                f"the {data.kind} follows the {before} of the same year; record that first"
            )
    row = RoutineRecord(
        mine_id=mine.id,
        point_id=point.id if point else None,
        kind=data.kind,
        done_at=done_at,
        before=data.before,
        after=data.after,
        minutes=data.minutes,
        verdict=verdict,
        findings=data.findings,
        performed_by=performed_by,
        taken_back_by=data.taken_back_by,
        taken_back_at=now,
        recorded_by=principal.name,
        created_at=now,
    )
    repository.add(session, row)
    audit.record_change(
        session, actor=principal.name, action="routine.record", key=str(row.id), data=data, at=now
    )
    _judge_mine(session, mine, now)
    return _out(row, mine, point.code if point else None)


def records(
    session: Session, principal: Principal, code: str, kind: str | None = None
) -> RoutineList:
    principal.require("ledger:view")
    mine, _ = visible_mine(session, principal, code)
    rows = repository.records(session, mine.id, kind)
    return RoutineList(items=[_out(row, mine, point) for row, point in rows])


# ---- the board ----------------------------------------------------------------------


def _errors(session: Session, point_id: int) -> list[Decimal]:
    out = []
    for text in repository.calibration_errors(session, point_id):
        try:
            out.append(Decimal(text))
        except InvalidOperation:
            continue
    return out


def calibration_interval(session: Session, point_id: int) -> int:
    """The point's calibration interval: 15 days, halved after a recurring drift."""
    return rules.shortened_interval(_errors(session, point_id), calibration_rules.INTERVAL_DAYS)


def _items(session: Session, mine: Mine, today: date, joined: date | None) -> list[BoardItem]:
    points = repository.points(session, mine.id)
    last = repository.last_done(session, mine.id)
    tz = ZoneInfo(mine.timezone)
    out = []
    for routine in rules.ROUTINES:
        for point in points if routine.per_point else [None]:
            done = last.get((routine.code, point.id if point else None))
            day = done.astimezone(tz).date() if done else None
            start = max(d for d in (day, joined) if d is not None) if (day or joined) else today
            due = rules.due_on(routine, start)
            out.append(
                BoardItem(
                    mine=mine.code,
                    mine_name=mine.name,
                    point=point.code if point else None,
                    kind=routine.code,
                    last=day,
                    due=due,
                    state=rules.due_state(due, today, done=day is not None).value,
                    interval_days=routine.days or None,
                )
            )
    calibrated = repository.last_calibrated(session, mine.id)
    for point in points:
        if point.kind != "belt":
            continue
        day = calibrated.get(point.id)
        days = calibration_interval(session, point.id)
        start = day or point.created_at.astimezone(tz).date()
        due = rules.due_on(rules.Routine("calibration", "", rules.Every.DAYS, days), start)
        out.append(
            BoardItem(
                mine=mine.code,
                mine_name=mine.name,
                point=point.code,
                kind="calibration",
                last=day,
                due=due,
                state=rules.due_state(due, today, done=day is not None).value,
                interval_days=days,
            )
        )
    return out


def board(session: Session, principal: Principal, code: str | None, now: datetime) -> Board:
    """What is due, overdue and done: for one mine, or every mine the principal sees."""
    principal.require("ledger:view")
    if code:
        mines: list[tuple[Mine, Org]] = [visible_mine(session, principal, code)]
    else:
        mines = mines_under(session, principal.scope_path)
    items: list[BoardItem] = []
    for mine, _ in mines:
        tz = ZoneInfo(mine.timezone)
        joined = repository.joined(session, mine.id)
        items.extend(
            _items(
                session,
                mine,
                now.astimezone(tz).date(),
                joined.astimezone(tz).date() if joined else None,
            )
        )
    return Board(
        items=items,
        overdue=sum(1 for i in items if i.state == "overdue"),
        due=sum(1 for i in items if i.state == "due"),
    )


# ---- timed rule -----------------------------------------------------------------------


def _judge_mine(session: Session, mine: Mine, now: datetime) -> None:
    joined = repository.joined(session, mine.id)
    if joined is None:
        return
    tz = ZoneInfo(mine.timezone)
    points = {p.code: p.id for p in repository.points(session, mine.id)}
    for item in _items(session, mine, now.astimezone(tz).date(), joined.astimezone(tz).date()):
        if item.kind == "calibration":
            continue  # calibration_overdue says it
        point_id = points.get(item.point) if item.point else None
        if item.state == "overdue":
            alarms.raise_alarm(
                session,
                mine_id=mine.id,
                type_=AlarmType.ROUTINE_OVERDUE,
                at=now,
                point_id=point_id,
                subject=item.kind,
                threshold=item.due.isoformat(),
                params=detail_params(
                    "routine_overdue",
                    routine=item.kind,
                    due=item.due.isoformat(),
                    last=item.last.isoformat() if item.last else "—",
                ),
            )
        else:
            alarms.end_condition(
                session,
                mine_id=mine.id,
                type_=AlarmType.ROUTINE_OVERDUE,
                at=now,
                point_id=point_id,
                subject=item.kind,
            )


def tick(session: Session, now: datetime) -> None:
    """``routine_overdue`` for every mine on the schedule."""
    for mine in repository.scheduled_mines(session):
        _judge_mine(session, mine, now)


def calibration_anomaly(
    session: Session, calibration: Calibration, error_percent: Decimal, now: datetime
) -> None:
    """计量异常: a calibration whose error is beyond the scale's accuracy class (an alarm
    of the instant: it ends as it is raised, and waits to be handled)."""
    if not rules.beyond_accuracy(error_percent):
        return
    alarm, _ = alarms.raise_alarm(
        session,
        mine_id=calibration.mine_id,
        type_=AlarmType.METERING_ANOMALY,
        at=now,
        point_id=calibration.point_id,
        subject=f"calibration:{calibration.id}",
        value=f"{calibration_rules.shown(error_percent, calibration_rules.PERCENT_PLACES)} %",
        threshold=f"{rules.CLASS_ACCURACY[rules.DEFAULT_CLASS]} %",
        params=detail_params(
            "calibration_error",
            error=calibration_rules.shown(error_percent, calibration_rules.PERCENT_PLACES),
            accuracy=rules.DEFAULT_CLASS,
        ),
    )
    alarms.end_alarm(session, alarm, now)
