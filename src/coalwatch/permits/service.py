"""Maintenance permits 开盖/调参审批, shutdown declarations 停产报备 and calibrations 调校:
the declarations that change what counts as an alarm.

A stop of 2 days or more (含2天; the threshold ``undeclared_shutdown_days``, which a
supervising unit may tighten) needs a written report 书面报告, a document of the mine's
archive, filed before the stop begins. A declaration or report filed later (by the
server's clock) is accepted, marked late and alarmed (``shutdown_declared_late``).
Resumption 复产 is asked by the mine and acknowledged by a supervising unit above it;
production after the stop without that acknowledgement is alarmed
(``resumption_unacknowledged``). Other features may refuse a resumption through
:func:`add_resumption_check` (the monitoring system's acceptance state, for one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms import rules_repository as alarm_facts
from coalwatch.alarms import service as alarms
from coalwatch.alarms.thresholds import for_point
from coalwatch.archive import service as archive
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import (
    AlarmType,
    detail_params,
    local_minute,
    needs_written_report,
    shutdown_declared_late,
)
from coalwatch.errors import N_, Conflict, Invalid, NotFound
from coalwatch.federation.queue import enqueue_config
from coalwatch.mines import repository as mine_repository
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.orgs.authority import require_decision
from coalwatch.permits.models import Permit, Shutdown
from coalwatch.permits.schemas import (
    CalibrationIn,
    CalibrationOut,
    PermitIn,
    PermitOut,
    ResumeIn,
    ShutdownIn,
    ShutdownOut,
    ShutdownReportIn,
)
from coalwatch.records.models import Calibration
from coalwatch.storage.models import Mine, Point


def approve_permit(
    session: Session, principal: Principal, mine_code: str, data: PermitIn, now: datetime
) -> PermitOut:
    """开盖/调参审批: a supervising unit above the mine approves the permit."""
    mine, org = visible_mine(session, principal, mine_code)
    require_decision(session, principal, "region:permit", org)
    point = mine_point(session, mine, data.point) if data.point else None
    permit = Permit(
        mine_id=mine.id,
        point_id=point.id if point else None,
        start=data.start,
        end=data.end,
        reason=data.reason,
        approved_by=principal.name,
        created_at=now,
    )
    _keep(session, principal, permit, "permit.approve", data, now)
    return PermitOut(
        id=permit.id,
        mine=mine.code,
        point=data.point,
        start=permit.start,
        end=permit.end,
        reason=permit.reason,
        approved_by=permit.approved_by,
    )


#: production this long after a stop's end still counts as its resumption
RESUMPTION_WATCH = timedelta(days=31)
#: a check a resumption must pass: the reason it is refused, or None
ResumptionCheck = Callable[[Session, Mine, datetime], str | None]
_RESUMPTION_CHECKS: list[ResumptionCheck] = []


def add_resumption_check(check: ResumptionCheck) -> None:
    """Another rule a resumption 复产 must pass before a supervising unit may acknowledge
    it (the monitoring system accepted 验收 again, for one): registered where the app is
    assembled; a reason refuses the acknowledgement (409) and is shown as it is."""
    if check not in _RESUMPTION_CHECKS:
        _RESUMPTION_CHECKS.append(check)


def remove_resumption_check(check: ResumptionCheck) -> None:
    if check in _RESUMPTION_CHECKS:
        _RESUMPTION_CHECKS.remove(check)


def _report_days(session: Session, mine: Mine) -> int:
    return for_point(session, mine.id, None).undeclared_shutdown_days


def _late_subject(shutdown: Shutdown) -> str:
    return f"shutdown:{shutdown.id}"


def _alarm_late(session: Session, mine: Mine, shutdown: Shutdown, what: str, now: datetime) -> None:
    """停产报备迟报: raised once per declaration; it lasts while a required report is
    missing and waits to be handled."""
    shutdown.late = True
    tz = ZoneInfo(mine.timezone)
    alarms.raise_alarm(
        session,
        mine_id=mine.id,
        type_=AlarmType.SHUTDOWN_DECLARED_LATE,
        at=now,
        subject=_late_subject(shutdown),
        value=local_minute(shutdown.created_at, tz),
        threshold=local_minute(shutdown.start, tz),
        params=detail_params(
            "shutdown_late",
            what=what,
            start=local_minute(shutdown.start, tz),
            declared=local_minute(shutdown.created_at, tz),
        ),
    )


def _judge_filing(session: Session, mine: Mine, shutdown: Shutdown, now: datetime) -> None:
    """Late or complete, as filed by ``now``: a late declaration is alarmed; the alarm
    ends when the declaration is complete (its report filed where one is needed)."""
    needs = needs_written_report(shutdown.start, shutdown.end, _report_days(session, mine))
    complete = not needs or shutdown.report_filed_at is not None
    if not shutdown.late:
        if shutdown_declared_late(shutdown.start, shutdown.created_at):
            _alarm_late(session, mine, shutdown, "declaration", now)
        elif needs and (
            shutdown_declared_late(shutdown.start, shutdown.report_filed_at)
            if shutdown.report_filed_at is not None
            else now > shutdown.start
        ):
            _alarm_late(session, mine, shutdown, "report", now)
    if complete and shutdown.late:
        alarms.end_condition(
            session,
            mine_id=mine.id,
            type_=AlarmType.SHUTDOWN_DECLARED_LATE,
            at=now,
            subject=_late_subject(shutdown),
        )


def declare_shutdown(
    session: Session, principal: Principal, mine_code: str, data: ShutdownIn, now: datetime
) -> ShutdownOut:
    """停产报备: accepted whenever it comes; one filed after the stop began is late."""
    principal.require("production:write")
    mine, _ = visible_mine(session, principal, mine_code)
    document = (
        archive.mine_document(session, principal, mine, data.report_document, "shutdown_report")
        if data.report_document is not None
        else None
    )
    shutdown = Shutdown(
        mine_id=mine.id,
        start=data.start,
        end=data.end,
        reason=data.reason,
        declared_by=principal.name,
        created_at=now,
        report_document_id=None if document is None else document.id,
        report_filed_at=None if document is None else now,
        late=False,
    )
    _keep(session, principal, shutdown, "shutdown.declare", data, now)
    if mine.managed_by_center_id is None:  # else its own center judges, alarms come mirrored
        _judge_filing(session, mine, shutdown, now)
    return _shutdown_out(session, shutdown, mine)


def _shutdown(session: Session, mine: Mine, shutdown_id: int) -> Shutdown:
    shutdown = session.get(Shutdown, shutdown_id)
    if shutdown is None or shutdown.mine_id != mine.id:
        raise NotFound(f"shutdown {shutdown_id} of mine {mine.code!r} not found")
    return shutdown


def file_shutdown_report(
    session: Session,
    principal: Principal,
    mine_code: str,
    shutdown_id: int,
    data: ShutdownReportIn,
    now: datetime,
) -> ShutdownOut:
    """File the written report 书面报告 of a declaration (a document of the mine's
    archive); after the stop began it is late."""
    principal.require("production:write")
    mine, _ = visible_mine(session, principal, mine_code)
    shutdown = _shutdown(session, mine, shutdown_id)
    if shutdown.report_document_id is not None:
        raise Conflict(f"shutdown {shutdown.id} has its written report already")
    document = archive.mine_document(session, principal, mine, data.document, "shutdown_report")
    shutdown.report_document_id, shutdown.report_filed_at = document.id, now
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="shutdown.report",
        entity="shutdown",
        key=str(shutdown.id),
        detail={"mine": mine.code, "document": document.id, "sha256": document.sha256},
        at=now,
    )
    _judge_filing(session, mine, shutdown, now)
    return _shutdown_out(session, shutdown, mine)


def _shutdown_out(session: Session, shutdown: Shutdown, mine: Mine) -> ShutdownOut:
    return ShutdownOut(
        id=shutdown.id,
        mine=mine.code,
        start=shutdown.start,
        end=shutdown.end,
        reason=shutdown.reason,
        declared_by=shutdown.declared_by,
        declared_at=shutdown.created_at,
        acknowledged_by=shutdown.acknowledged_by,
        acknowledged_at=shutdown.acknowledged_at,
        needs_report=needs_written_report(
            shutdown.start, shutdown.end, _report_days(session, mine)
        ),
        report_document=shutdown.report_document_id,
        report_filed_at=shutdown.report_filed_at,
        late=shutdown.late,
        resume_at=shutdown.resume_at,
        resumption_requested_by=shutdown.resumption_requested_by,
        resumption_requested_at=shutdown.resumption_requested_at,
        resumption_acknowledged_by=shutdown.resumption_acknowledged_by,
        resumption_acknowledged_at=shutdown.resumption_acknowledged_at,
    )


def acknowledge_shutdown(
    session: Session, principal: Principal, mine_code: str, shutdown_id: int, now: datetime
) -> ShutdownOut:
    """停产确认: a supervising unit above the mine acknowledges the mine's declaration."""
    mine, org = visible_mine(session, principal, mine_code)
    require_decision(session, principal, "region:shutdown", org)
    shutdown = _shutdown(session, mine, shutdown_id)
    if shutdown.acknowledged_by is not None:
        raise Conflict(
            f"shutdown {shutdown_id} was acknowledged already by {shutdown.acknowledged_by!r}"
        )
    shutdown.acknowledged_by, shutdown.acknowledged_at = principal.name, now
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="shutdown.acknowledge",
        entity="shutdown",
        key=str(shutdown.id),
        detail={"mine": mine.code, "declared_by": shutdown.declared_by},
        at=now,
    )
    return _shutdown_out(session, shutdown, mine)


def request_resumption(
    session: Session,
    principal: Principal,
    mine_code: str,
    shutdown_id: int,
    data: ResumeIn,
    now: datetime,
) -> ShutdownOut:
    """复产申请: the mine says when it means to produce again."""
    principal.require("production:write")
    mine, _ = visible_mine(session, principal, mine_code)
    shutdown = _shutdown(session, mine, shutdown_id)
    if shutdown.resumption_acknowledged_at is not None:
        raise Conflict(f"the resumption after shutdown {shutdown.id} was acknowledged already")
    if data.resume_at < shutdown.start:
        raise Invalid("a resumption cannot come before the stop began")
    shutdown.resume_at = data.resume_at
    shutdown.resumption_requested_by, shutdown.resumption_requested_at = principal.name, now
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="shutdown.resume",
        entity="shutdown",
        key=str(shutdown.id),
        detail={"mine": mine.code, "resume_at": data.resume_at.isoformat()},
        at=now,
    )
    return _shutdown_out(session, shutdown, mine)


def acknowledge_resumption(
    session: Session, principal: Principal, mine_code: str, shutdown_id: int, now: datetime
) -> ShutdownOut:
    """复产确认: a supervising unit above the mine acknowledges the resumption, once the
    registered checks pass; the stop then ends at the resumption time."""
    mine, org = visible_mine(session, principal, mine_code)
    require_decision(session, principal, "region:shutdown", org)
    shutdown = _shutdown(session, mine, shutdown_id)
    if shutdown.resume_at is None:
        raise Conflict(N_("矿井尚未提出复产申请"), {"shutdown": shutdown.id}, code="no_resumption")
    if shutdown.resumption_acknowledged_at is not None:
        raise Conflict(
            f"the resumption after shutdown {shutdown.id} was acknowledged already by "
            f"{shutdown.resumption_acknowledged_by!r}"
        )
    for check in list(_RESUMPTION_CHECKS):
        reason = check(session, mine, now)
        if reason is not None:
            raise Conflict(reason, {"shutdown": shutdown.id}, code="resumption_refused")
    shutdown.resumption_acknowledged_by = principal.name
    shutdown.resumption_acknowledged_at = now
    before = shutdown.end
    shutdown.end = shutdown.resume_at
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="shutdown.resumption_acknowledge",
        entity="shutdown",
        key=str(shutdown.id),
        detail={
            "mine": mine.code,
            "resume_at": shutdown.resume_at.isoformat(),
            "declared_end": before.isoformat(),
        },
        at=now,
    )
    alarms.end_condition(
        session,
        mine_id=mine.id,
        type_=AlarmType.RESUMPTION_UNACKNOWLEDGED,
        at=now,
        subject=_late_subject(shutdown),
    )
    return _shutdown_out(session, shutdown, mine)


def tick(session: Session, now: datetime) -> None:
    """The timed rules of declarations: a stop that began without its required written
    report is late; production after a stop whose resumption is not acknowledged."""
    open_ = session.scalars(
        select(Shutdown).where(
            Shutdown.start <= now,
            Shutdown.end >= now - RESUMPTION_WATCH,
            Shutdown.resumption_acknowledged_at.is_(None),
        )
    ).all()
    if not open_:
        return
    produced = alarm_facts.last_productions(session)
    for shutdown in open_:
        mine = session.get_one(Mine, shutdown.mine_id)
        if mine.managed_by_center_id is not None:
            continue  # its own center judges it; the alarms arrive mirrored
        if not shutdown.late and shutdown.report_filed_at is None:
            _judge_filing(session, mine, shutdown, now)
        last = produced.get(mine.id)
        if (
            shutdown.end <= now
            and last is not None
            and last > shutdown.end
            and needs_written_report(shutdown.start, shutdown.end, _report_days(session, mine))
        ):
            alarms.raise_alarm(
                session,
                mine_id=mine.id,
                type_=AlarmType.RESUMPTION_UNACKNOWLEDGED,
                at=now,
                subject=_late_subject(shutdown),
                params=detail_params(
                    "resumption_unacknowledged",
                    end=local_minute(shutdown.end, ZoneInfo(mine.timezone)),
                ),
            )


def list_permits(session: Session, principal: Principal, mine_code: str) -> list[PermitOut]:
    mine, _ = visible_mine(session, principal, mine_code)
    rows = session.execute(
        select(Permit, Point.code)
        .outerjoin(Point, Point.id == Permit.point_id)
        .where(Permit.mine_id == mine.id)
        .order_by(Permit.start.desc())
    ).all()
    return [
        PermitOut(
            id=p.id,
            mine=mine.code,
            point=code,
            start=p.start,
            end=p.end,
            reason=p.reason,
            approved_by=p.approved_by,
        )
        for p, code in rows
    ]


def list_shutdowns(session: Session, principal: Principal, mine_code: str) -> list[ShutdownOut]:
    mine, _ = visible_mine(session, principal, mine_code)
    rows = session.scalars(
        select(Shutdown).where(Shutdown.mine_id == mine.id).order_by(Shutdown.start.desc())
    )
    return [_shutdown_out(session, s, mine) for s in rows]


def record_calibration(
    session: Session, principal: Principal, mine_code: str, data: CalibrationIn, now: datetime
) -> CalibrationOut:
    principal.require("production:write")
    mine, _ = visible_mine(session, principal, mine_code)
    point = mine_point(session, mine, data.point)
    if point.kind != "belt":
        raise Invalid(
            f"point {point.code!r} is a {point.kind}; calibrations here are for belt scales"
        )
    calibration = Calibration(
        mine_id=mine.id,
        point_id=point.id,
        calibrated_on=data.calibrated_on,
        note=data.note,
        recorded_by=principal.name,
        created_at=now,
    )
    _keep(session, principal, calibration, "calibration.record", data, now)
    return CalibrationOut(
        id=calibration.id,
        mine=mine.code,
        point=point.code,
        calibrated_on=data.calibrated_on,
        note=data.note,
        recorded_by=principal.name,
    )


def _keep(
    session: Session,
    principal: Principal,
    row: Permit | Shutdown | Calibration,
    action: str,
    data: BaseModel,
    now: datetime,
) -> None:
    """Store a declaration and write it, as it was given, to the audit log."""
    mine_repository.add(session, row)
    audit.record_change(
        session, actor=principal.name, action=action, key=str(row.id), data=data, at=now
    )
    mine = session.get_one(Mine, row.mine_id)
    # the written report stays in this center's archive: its id means nothing above
    payload = data.model_dump(mode="json", exclude={"report_document"})
    enqueue_config(session, action, mine.code, payload, now)
