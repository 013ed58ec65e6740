"""Maintenance permits 开盖/调参审批, shutdown declarations 停产报备 and calibrations 调校:
the declarations that change what counts as an alarm."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.errors import Conflict, Invalid, NotFound
from coalwatch.federation.queue import enqueue_config
from coalwatch.mines import repository as mine_repository
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.orgs.authority import require_decision
from coalwatch.permits.schemas import (
    CalibrationIn,
    CalibrationOut,
    PermitIn,
    PermitOut,
    ShutdownIn,
    ShutdownOut,
)
from coalwatch.storage.models import Calibration, Mine, Permit, Point, Shutdown


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


def declare_shutdown(
    session: Session, principal: Principal, mine_code: str, data: ShutdownIn, now: datetime
) -> ShutdownOut:
    principal.require("production:write")
    mine, _ = visible_mine(session, principal, mine_code)
    shutdown = Shutdown(
        mine_id=mine.id,
        start=data.start,
        end=data.end,
        reason=data.reason,
        declared_by=principal.name,
        created_at=now,
    )
    _keep(session, principal, shutdown, "shutdown.declare", data, now)
    return _shutdown_out(shutdown, mine)


def _shutdown_out(shutdown: Shutdown, mine: Mine) -> ShutdownOut:
    return ShutdownOut(
        id=shutdown.id,
        mine=mine.code,
        start=shutdown.start,
        end=shutdown.end,
        reason=shutdown.reason,
        declared_by=shutdown.declared_by,
        acknowledged_by=shutdown.acknowledged_by,
        acknowledged_at=shutdown.acknowledged_at,
    )


def acknowledge_shutdown(
    session: Session, principal: Principal, mine_code: str, shutdown_id: int, now: datetime
) -> ShutdownOut:
    """停产确认: a supervising unit above the mine acknowledges the mine's declaration."""
    mine, org = visible_mine(session, principal, mine_code)
    require_decision(session, principal, "region:shutdown", org)
    shutdown = session.get(Shutdown, shutdown_id)
    if shutdown is None or shutdown.mine_id != mine.id:
        raise NotFound(f"shutdown {shutdown_id} of mine {mine.code!r} not found")
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
    return _shutdown_out(shutdown, mine)


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
    return [_shutdown_out(s, mine) for s in rows]


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
    enqueue_config(session, action, mine.code, data.model_dump(mode="json"), now)
