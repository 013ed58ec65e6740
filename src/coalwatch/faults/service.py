"""Fault records 故障记录: opened by system abnormalities or by hand, reported upward
within 1 h (company rule) / 2 h (provincial rule), recovered, closed. The report time is
the server's time of the report act. When the 2 h deadline passes unreported, the year's
capacity reduction 核减 is pending at once and grows with the fault until it recovers;
the supervising unit confirms or waives it. Nothing waits for the fault to be closed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.alarms import service as alarms
from coalwatch.alarms import thresholds
from coalwatch.alarms.models import Alarm
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
from coalwatch.errors import N_, Conflict, Invalid, NotFound
from coalwatch.events.broker import emit
from coalwatch.faults import repository
from coalwatch.faults.models import Fault
from coalwatch.faults.schemas import (
    CloseIn,
    FaultIn,
    FaultOut,
    ReductionDecisionIn,
    ReportDecisionIn,
    ReportIn,
)
from coalwatch.federation.outbound import forward_fault, mirror_of
from coalwatch.mines import repository as mine_repository
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.orgs.authority import require_decision
from coalwatch.storage.models import CapacityReduction, Mine, Org, Point

MAX_LISTED = 1000
#: the permission of the supervising unit that decides reductions and confirms reports
REDUCTION = "region:reduction"
PENDING = "pending"


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
        mine = session.get_one(Mine, fault.mine_id)
        if mine.managed_by_center_id is None:
            assess(session, fault, mine, alarm.end)
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
    """上报: the fault is reported to the level above now, through the system or (recorded
    as) by telephone; the report time is the server's."""
    principal.require("alarm:write")
    if data.reported_at is not None:
        raise Invalid(
            N_("上报时间由服务器在上报时记录，不能填写（请去掉 reported_at）"),
            {"field": "reported_at"},
        )
    fault, mine, org = _visible(session, principal, fault_id)
    if fault.reported_at is not None:
        raise Conflict(f"fault {fault_id} was reported already at {fault.reported_at.isoformat()}")
    fault.reported_at = now
    fault.reported_by = principal.name
    fault.reported_via = data.via
    fault.report_note = data.note
    alarms.end_condition(
        session,
        mine_id=mine.id,
        type_=AlarmType.FAULT_REPORT_OVERDUE,
        at=now,
        subject=f"fault:{fault.id}",
    )
    audit.record(
        session,
        actor=principal.name,
        action="fault.report",
        entity="fault",
        key=str(fault.id),
        detail={"reported_at": now.isoformat(), "via": data.via, "note": data.note},
        at=now,
    )
    reduction = assess(session, fault, mine, now)
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": "reported"})
    forward_fault(session, fault, "reported", now)  # a real message to the level above
    return _out(session, fault, mine, None, reduction, now)


def confirm_report(
    session: Session, principal: Principal, fault_id: int, data: ReportDecisionIn, now: datetime
) -> FaultOut:
    """The supervising unit confirms a telephone report, or says it never came: the fault
    is then unreported, and its reduction pending if the deadline has passed."""
    principal.require(REDUCTION)
    fault, mine, org = _visible(session, principal, fault_id)
    require_decision(session, principal, REDUCTION, org)
    if fault.reported_via != "phone" or fault.report_confirmed_at is not None:
        raise Conflict(f"fault {fault_id} has no telephone report waiting to be confirmed")
    if not data.accepted and data.reason is None:
        raise Invalid(N_("不予确认须写明理由"), {"field": "reason"})
    detail: dict[str, object] = {
        "reported_at": fault.reported_at.isoformat() if fault.reported_at else None,
        "accepted": data.accepted,
        "reason": data.reason,
    }
    if data.accepted:
        fault.report_confirmed_by, fault.report_confirmed_at = principal.name, now
    else:
        fault.reported_at = fault.reported_by = fault.reported_via = None
    audit.record(
        session,
        actor=principal.name,
        action="fault.report.confirm" if data.accepted else "fault.report.reject",
        entity="fault",
        key=str(fault.id),
        detail=detail,
        at=now,
    )
    reduction = assess(session, fault, mine, now)
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": "reported"})
    return _out(session, fault, mine, None, reduction, now)


def decide_reduction(
    session: Session,
    principal: Principal,
    fault_id: int,
    data: ReductionDecisionIn,
    now: datetime,
) -> FaultOut:
    """核减/免减: the supervising unit confirms a pending reduction or waives it (a waived
    one no longer lowers the capacity), with a reason; audited."""
    principal.require(REDUCTION)
    fault, mine, org = _visible(session, principal, fault_id)
    require_decision(session, principal, REDUCTION, org)
    reduction = (
        None
        if fault.reduction_id is None
        else session.get_one(CapacityReduction, fault.reduction_id)
    )
    if reduction is None:
        raise Conflict(f"fault {fault_id} has no capacity reduction")
    if reduction.status != PENDING:
        raise Conflict(f"the reduction of fault {fault_id} is {reduction.status} already")
    reduction.status = "confirmed" if data.decision == "confirm" else "waived"
    reduction.decided_by, reduction.decided_at = principal.name, now
    reduction.decision_reason = data.reason
    audit.record(
        session,
        actor=principal.name,
        action=f"reduction.{data.decision}",
        entity="capacity_reduction",
        key=str(reduction.id),
        detail={
            "fault": fault.id,
            "mine": mine.code,
            "amount_t": str(_tonnes(reduction.amount_kg_num, reduction.amount_kg_den)),
            "reason": data.reason,
        },
        at=now,
    )
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": "decided"})
    return _out(session, fault, mine, None, reduction, now)


def assess(session: Session, fault: Fault, mine: Mine, now: datetime) -> CapacityReduction | None:
    """The rule, applied now: a fault not reported by its deadline (2 h, or what the
    supervising units made it) reduces its year's capacity by (A / 330) × 3 × fault days,
    from its occurrence date to its recovery date (today while it lasts), both counted.
    The reduction is pending (and counted) from the day the deadline passed; it grows
    with the fault until the fault recovers, whatever was decided about it."""
    limits = thresholds.for_point(session, mine.id, None)
    lateness = fault_report_lateness(fault.occurred_at, fault.reported_at, now, limits)
    if lateness is not ReportLateness.VIOLATION:
        return None
    tz = ZoneInfo(mine.timezone)
    occurred = fault.occurred_at.astimezone(tz).date()
    last = (fault.recovered_at or now).astimezone(tz).date()
    changes = [
        rules.CapacityChange(kg_to_tonnes(c.annual_kg), c.effective_from)
        for c in mine_repository.capacities_of(session, mine.id)
    ]
    annual = rules.approved_annual(changes, occurred)
    if annual is None:
        return None
    amount_kg = rules.fault_reduction(annual, occurred, max(last, occurred)) * 1000
    if fault.reduction_id is not None:
        reduction = session.get_one(CapacityReduction, fault.reduction_id)
        if (reduction.amount_kg_num, reduction.amount_kg_den) != (
            amount_kg.numerator,
            amount_kg.denominator,
        ):
            reduction.amount_kg_num = amount_kg.numerator
            reduction.amount_kg_den = amount_kg.denominator
        return reduction
    # 核减其当年的审定生产能力: the fault's year, from the day its deadline passed (the
    # year's last day for a deadline that passed in the next year)
    deadline = fault.occurred_at + timedelta(minutes=limits.fault_report_violation_minutes)
    effective = min(deadline.astimezone(tz).date(), date(occurred.year, 12, 31))
    reduction = CapacityReduction(
        mine_id=mine.id,
        amount_kg_num=amount_kg.numerator,
        amount_kg_den=amount_kg.denominator,
        effective_from=effective,
        reason=f"故障 {fault.id} 未按时上报 (fault {fault.id} not reported in time)",
        created_at=now,
        status=PENDING,
    )
    mine_repository.add(session, reduction)
    fault.reduction_id = reduction.id
    audit.record(
        session,
        actor="system",
        action="reduction.pending",
        entity="capacity_reduction",
        key=str(reduction.id),
        detail={"fault": fault.id, "mine": mine.code, "effective_from": effective.isoformat()},
        at=now,
    )
    return reduction


def assess_due(session: Session, now: datetime) -> None:
    """The timed rule: every fault not closed, of the mines this center judges."""
    for fault in repository.open_faults(session):
        mine = session.get_one(Mine, fault.mine_id)
        if mine.managed_by_center_id is None and mirror_of(session, fault.id) is None:
            assess(session, fault, mine, now)


def close(
    session: Session, principal: Principal, fault_id: int, data: CloseIn, now: datetime
) -> FaultOut:
    """Closing records the result and the recovery (the reduction's last day)."""
    principal.require("alarm:write")
    fault, mine, org = _visible(session, principal, fault_id)
    if fault.closed_at is not None:
        raise Conflict(f"fault {fault_id} is closed already")
    if (
        fault.recovered_at is not None
        and data.recovered_at is not None
        and data.recovered_at != fault.recovered_at
    ):
        raise Invalid(
            N_("恢复时间已由系统记录为 %(at)s，不能改写"),
            {"field": "recovered_at"},
            params={"at": fault.recovered_at.isoformat()},
        )
    recovered_at = fault.recovered_at or data.recovered_at or now
    if recovered_at < fault.occurred_at or recovered_at > now:
        raise Invalid("recovered_at must lie between the fault's occurrence and now")
    fault.recovered_at = recovered_at
    fault.result = data.result
    fault.closed_at = now
    fault.closed_by = principal.name
    reduction = assess(session, fault, mine, now)
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
        reported_via=fault.reported_via,
        report_note=fault.report_note,
        report_confirmed_by=fault.report_confirmed_by,
        report_confirmed_at=fault.report_confirmed_at,
        result=fault.result,
        recovered_at=fault.recovered_at,
        escalated_at=fault.escalated_at,
        closed_at=fault.closed_at,
        reduction_t=reduction_t,
        reduction_status=None if reduction is None else reduction.status,
        reduction_decided_by=None if reduction is None else reduction.decided_by,
        reduction_decided_at=None if reduction is None else reduction.decided_at,
        reduction_reason=None if reduction is None else reduction.decision_reason,
        report_lateness=None if lateness is None else lateness.value,
    )


def list_faults(
    session: Session, principal: Principal, mine: str | None, open_only: bool, now: datetime
) -> list[FaultOut]:
    rows = repository.listed(session, principal.scope_path, mine, open_only, MAX_LISTED)
    return [_out(session, f, m, p, r, now) for f, m, p, r in rows]
