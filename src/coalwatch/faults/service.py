"""Fault records 故障记录: opened by system abnormalities or by hand, reported upward
within 1 h (company rule) / 2 h (provincial rule), recovered, closed; a fault not
reported within 2 h reduces the year's capacity 核减 when it is closed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.alarms import service as alarms
from coalwatch.alarms import thresholds
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import capacity as rules
from coalwatch.domain.alarms import (
    AlarmType,
    ReportLateness,
    fault_report_lateness,
    params_of,
    phenomenon_params,
)
from coalwatch.domain.units import fraction_to_decimal, kg_to_tonnes
from coalwatch.errors import Conflict, Invalid, NotFound
from coalwatch.events.broker import emit
from coalwatch.faults import repository
from coalwatch.faults.schemas import CloseIn, FaultIn, FaultOut, ReportIn
from coalwatch.federation.outbound import forward_fault, mirror_of
from coalwatch.mines import repository as mine_repository
from coalwatch.mines.service import apply_reduction, mine_point, visible_mine
from coalwatch.storage.models import Alarm, CapacityReduction, Fault, Mine, Org, Point

MAX_LISTED = 1000


def open_for_alarm(
    session: Session,
    alarm: Alarm,
    phenomenon: str,
    by: str = "system",
    since: datetime | None = None,
) -> Fault:
    """The fault that a system abnormality opens (one per alarm), occurred at ``since``
    (when the trouble began) or else when the alarm was raised."""
    existing = repository.for_alarm(session, alarm.id)
    if existing is not None:
        return existing
    fault = Fault(
        mine_id=alarm.mine_id,
        point_id=alarm.point_id,
        station_id=alarm.station_id,
        alarm_id=alarm.id,
        kind=alarm.type,
        phenomenon=phenomenon,
        params=phenomenon_params(alarm.params, alarm.detail),
        occurred_at=since or alarm.start,
        opened_by=by,
    )
    repository.add(session, fault)
    mine = session.get_one(Mine, alarm.mine_id)
    org = session.get_one(Org, mine.org_id)
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": "opened"})
    forward_fault(session, fault, "opened", alarm.start)
    return fault


def recovered(session: Session, alarm: Alarm) -> None:
    """The abnormality ended: its fault's recovery time is when (kept if already given)."""
    fault = repository.for_alarm(session, alarm.id)
    if fault is not None and fault.recovered_at is None and alarm.end is not None:
        fault.recovered_at = alarm.end
        forward_fault(session, fault, "recovered", alarm.end)


def record_fault(
    session: Session, principal: Principal, mine_code: str, data: FaultIn, now: datetime
) -> FaultOut:
    principal.require("alarm:write")
    mine, _ = visible_mine(session, principal, mine_code)
    point_id = None
    if data.point is not None:
        point = mine_point(session, mine, data.point)
        point_id = point.id
    if data.occurred_at > now:
        raise Invalid("a fault cannot occur in the future")
    fault = Fault(
        mine_id=mine.id,
        point_id=point_id,
        kind="manual",
        phenomenon=data.phenomenon,
        occurred_at=data.occurred_at,
        opened_by=principal.name,
    )
    repository.add(session, fault)
    audit.record(
        session,
        actor=principal.name,
        action="fault.open",
        entity="fault",
        key=str(fault.id),
        detail={"mine": mine.code, "phenomenon": data.phenomenon},
        at=now,
    )
    forward_fault(session, fault, "opened", now)
    return _out(session, fault, mine, data.point, None, now)


def _visible(session: Session, principal: Principal, fault_id: int) -> tuple[Fault, Mine, Org]:
    found = repository.with_mine(session, fault_id)
    if found is None or not principal.sees(found[2].path):
        raise NotFound(f"fault {fault_id} not found")
    mirror = mirror_of(session, fault_id)
    if mirror is not None:  # one lifecycle, one place: where the fault was opened
        center = mirror.origin.rpartition(":")[0]
        raise Conflict(f"fault {fault_id} is mirrored from center {center!r}: it is handled there")
    return found


def report(
    session: Session, principal: Principal, fault_id: int, data: ReportIn, now: datetime
) -> FaultOut:
    """上报: the fault was reported to the level above."""
    principal.require("alarm:write")
    fault, mine, org = _visible(session, principal, fault_id)
    if fault.reported_at is not None:
        raise Conflict(f"fault {fault_id} was reported already at {fault.reported_at.isoformat()}")
    at = data.reported_at or now
    if at > now or at < fault.occurred_at:
        raise Invalid("reported_at must lie between the fault's occurrence and now")
    fault.reported_at = at
    fault.reported_by = principal.name
    alarms.end_condition(
        session,
        mine_id=mine.id,
        type_=AlarmType.FAULT_REPORT_OVERDUE,
        at=at,
        subject=f"fault:{fault.id}",
    )
    audit.record(
        session,
        actor=principal.name,
        action="fault.report",
        entity="fault",
        key=str(fault.id),
        detail={"reported_at": at.isoformat()},
        at=now,
    )
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": "reported"})
    forward_fault(session, fault, "reported", now)  # a real message to the level above
    return _out(session, fault, mine, None, None, now)


def close(
    session: Session, principal: Principal, fault_id: int, data: CloseIn, now: datetime
) -> FaultOut:
    """Closing records the result; a fault unreported at 2 h reduces the capacity."""
    principal.require("alarm:write")
    fault, mine, org = _visible(session, principal, fault_id)
    if fault.closed_at is not None:
        raise Conflict(f"fault {fault_id} is closed already")
    recovered_at = data.recovered_at or fault.recovered_at or now
    if recovered_at < fault.occurred_at or recovered_at > now:
        raise Invalid("recovered_at must lie between the fault's occurrence and now")
    fault.recovered_at = recovered_at
    fault.result = data.result
    fault.closed_at = now
    fault.closed_by = principal.name
    tz = ZoneInfo(mine.timezone)
    limits = thresholds.for_point(session, mine.id, None)
    lateness = fault_report_lateness(fault.occurred_at, fault.reported_at, now, limits)
    reduction = None
    if lateness is ReportLateness.VIOLATION:
        occurred = fault.occurred_at.astimezone(tz).date()
        changes = [
            rules.CapacityChange(kg_to_tonnes(c.annual_kg), c.effective_from)
            for c in mine_repository.capacities_of(session, mine.id)
        ]
        annual = rules.approved_annual(changes, occurred)
        if annual is not None:
            amount = rules.fault_reduction(annual, occurred, recovered_at.astimezone(tz).date())
            # 核减其当年的审定生产能力: the fault's year, from the closing day (or, for a
            # fault closed in a later year, from that year's last day, so its A is reduced)
            closing_day = now.astimezone(tz).date()
            applied = (
                closing_day if closing_day.year == occurred.year else date(occurred.year, 12, 31)
            )
            reduction = apply_reduction(
                session,
                mine,
                amount,
                applied,
                f"故障 {fault.id} 未在2小时内上报 (fault {fault.id} not reported within 2 h)",
                now,
            )
            fault.reduction_id = reduction.id
    audit.record(
        session,
        actor=principal.name,
        action="fault.close",
        entity="fault",
        key=str(fault.id),
        detail={
            "result": data.result,
            "recovered_at": recovered_at.isoformat(),
            "reduction_t": None
            if reduction is None
            else str(_tonnes(reduction.amount_kg_num, reduction.amount_kg_den)),
        },
        at=now,
    )
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": "closed"})
    forward_fault(session, fault, "closed", now)
    return _out(session, fault, mine, None, reduction, now)


def _tonnes(num: int, den: int) -> Decimal:
    return fraction_to_decimal(Fraction(num, den * 1000), 3)


def _out(
    session: Session,
    fault: Fault,
    mine: Mine,
    point: str | None,
    reduction: CapacityReduction | None,
    now: datetime,
) -> FaultOut:
    if point is None and fault.point_id is not None:
        point = session.get_one(Point, fault.point_id).code
    if reduction is None and fault.reduction_id is not None:
        reduction = session.get_one(CapacityReduction, fault.reduction_id)
    reduction_t = (
        None if reduction is None else _tonnes(reduction.amount_kg_num, reduction.amount_kg_den)
    )
    limits = thresholds.for_point(session, mine.id, None)
    lateness = fault_report_lateness(
        fault.occurred_at, fault.reported_at, fault.closed_at or now, limits
    )
    return FaultOut(
        id=fault.id,
        mine=mine.code,
        point=point,
        kind=fault.kind,
        phenomenon=fault.phenomenon,
        params=params_of(fault.params),
        occurred_at=fault.occurred_at,
        reported_at=fault.reported_at,
        reported_by=fault.reported_by,
        result=fault.result,
        recovered_at=fault.recovered_at,
        escalated_at=fault.escalated_at,
        closed_at=fault.closed_at,
        reduction_t=reduction_t,
        report_lateness=None if lateness is None else lateness.value,
    )


def list_faults(
    session: Session, principal: Principal, mine: str | None, open_only: bool, now: datetime
) -> list[FaultOut]:
    rows = repository.listed(session, principal.scope_path, mine, open_only, MAX_LISTED)
    return [_out(session, f, m, p, r, now) for f, m, p, r in rows]
