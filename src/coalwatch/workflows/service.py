"""Approval workflows 审批: a mine's user submits, a supervising unit above the mine
decides (coefficients ``region:coefficient``, manual entries ``production:approve``);
nobody approves their own application.

- Coefficient applications 折算系数申报: approved, the coefficient is in force through
  :func:`coalwatch.mines.service.approve_coefficient` (raw coal changes from its date).
- Manual production 人工录入: approved, it counts through
  :func:`coalwatch.mines.service.record_manual_production` (marked manual everywhere).
- A mine's requests 申请 for the yardsticks decided above it (a capacity change with
  its licence document, a month's plan, a maintenance permit): approved, they are the
  supervising unit's decision (:func:`coalwatch.mines.service.set_capacity`,
  ``set_plan``, :func:`coalwatch.permits.service.approve_permit`).

Pending applications change no figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import coefficients as coefficient_rules
from coalwatch.domain import workflows as rules
from coalwatch.domain.periods import local_day
from coalwatch.domain.units import kg_to_tonnes, tonnes_to_kg
from coalwatch.errors import Conflict, Forbidden, Invalid, NotFound
from coalwatch.mines import repository as mine_repository
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import (
    CoefficientIn,
    LicensedCapacityIn,
    ManualProductionIn,
    MonthPlanIn,
    PlanIn,
)
from coalwatch.orgs.authority import refusal, require_decision
from coalwatch.permits import service as permits
from coalwatch.permits.schemas import PermitIn
from coalwatch.storage.models import Mine, Org, Point
from coalwatch.workflows import repository
from coalwatch.workflows.models import CoefficientApplication, ManualEntry, MineRequest
from coalwatch.workflows.schemas import (
    CoefficientApplicationIn,
    CoefficientApplicationOut,
    ManualEntryOut,
    RejectIn,
    RequestKind,
    RequestOut,
    Status,
)

PENDING: Status = "pending"
APPROVED: Status = "approved"
REJECTED: Status = "rejected"
Row = TypeVar("Row")
Application = CoefficientApplication | ManualEntry | MineRequest


class SelfApproval(Forbidden):
    code = "self_approval"


def _decide(principal: Principal, row: Application, what: str) -> None:
    """Refuse a decision on an application decided already or submitted by the caller
    (who may decide is checked first, by :func:`_decision_on`)."""
    if row.status != PENDING:
        raise Conflict(f"{what} {row.id} is {row.status} already", {"status": row.status})
    if row.applied_by == principal.name:
        raise SelfApproval(
            f"nobody approves their own application: {what} {row.id} was submitted by "
            f"{row.applied_by!r}; another user of the supervising unit decides it"
        )


def _decided(
    session: Session,
    principal: Principal,
    row: Application,
    mine: Mine,
    status: Status,
    action: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Record the caller's decision on the application, and write it to the audit log."""
    row.status, row.decided_by, row.decided_at = status, principal.name, now
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action=action,
        entity=action.split(".")[0],
        key=str(row.id),
        detail={"mine": mine.code, "applied_by": row.applied_by, **detail},
        at=now,
    )


def _fields(row: Application, mine: Mine) -> dict[str, Any]:
    """What an application of either kind shows: who submitted and who decided it, when."""
    return {
        "id": row.id,
        "mine": mine.code,
        "mine_name": mine.name,
        "status": _status(row.status),
        "applied_by": row.applied_by,
        "applied_at": row.applied_at,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "decision_note": row.decision_note,
    }


def _decision_on(
    session: Session, principal: Principal, permission: str, org: Org | None, what: str
) -> None:
    """The caller may take the decision ``permission`` on an application of a mine of
    ``org`` (None: not found, or outside the caller's scope). Without the permission the
    answer is 403 whether or not the application exists: no probing of ids."""
    if org is None or not principal.sees(org.path):
        if not principal.has(permission):
            raise refusal(permission, None)
        raise NotFound(f"{what} not found")
    require_decision(session, principal, permission, org)


def _status(value: str) -> Status:
    return APPROVED if value == APPROVED else REJECTED if value == REJECTED else PENDING


def _listed(
    session: Session,
    principal: Principal,
    query: Callable[..., tuple[list[Row], int]],
    mine: str | None,
    status: Status | None,
    page: int,
    size: int,
) -> tuple[list[Row], int]:
    """A page of the applications in the caller's scope (of one mine, when given)."""
    if mine is not None:
        mines.visible_mine(session, principal, mine)
    return query(session, principal.scope_path, mine=mine, status=status, page=page, size=size)


# ---- coefficient applications ----------------------------------------------------------


def _coefficient_out(row: CoefficientApplication, mine: Mine) -> CoefficientApplicationOut:
    return CoefficientApplicationOut(
        **_fields(row, mine),
        kind="change" if row.kind == rules.ApplicationKind.CHANGE else "half_year",
        percent=Decimal(row.hundredths) / 100,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        changed_on=row.changed_on,
        analysis=row.analysis,
        site_measurement=row.site_measurement,
        filed_on=row.filed_on,
        on_time=row.on_time,
        approved_from=row.approved_from,
        approved_to=row.approved_to,
    )


def apply_coefficient(
    session: Session,
    principal: Principal,
    mine_code: str,
    data: CoefficientApplicationIn,
    now: datetime,
) -> CoefficientApplicationOut:
    """A mine applies for a coefficient; it waits, not in force, until approved."""
    principal.require("production:write")
    mine, _ = mines.visible_mine(session, principal, mine_code)
    try:
        hundredths = coefficient_rules.percent_to_hundredths(data.percent)
    except ValueError as exc:
        raise Invalid(f"percent: {exc}") from exc
    kind = rules.ApplicationKind(data.kind)
    filed_on = local_day(now, ZoneInfo(mine.timezone))
    application = rules.Application(
        kind=kind,
        percent=data.percent,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        site_measurement=data.site_measurement,
        changed_on=data.changed_on,
    )
    try:
        period = rules.check_application(application, filed_on)
    except rules.RuleBroken as exc:
        raise Invalid(str(exc)) from exc
    row = CoefficientApplication(
        mine_id=mine.id,
        kind=kind.value,
        hundredths=hundredths,
        effective_from=data.effective_from,
        effective_to=period.last if kind is rules.ApplicationKind.CHANGE else data.effective_to,
        changed_on=data.changed_on,
        analysis=data.analysis,
        site_measurement=(data.site_measurement or "").strip() or None,
        filed_on=filed_on,
        on_time=kind is rules.ApplicationKind.CHANGE or rules.filed_in_window(period, filed_on),
        status=PENDING,
        applied_by=principal.name,
        applied_at=now,
    )
    repository.add(session, row)
    audit.record_change(
        session,
        actor=principal.name,
        action="coefficient_application.submit",
        key=str(row.id),
        data=data,
        at=now,
    )
    return _coefficient_out(row, mine)


def _visible_application(
    session: Session, principal: Principal, application_id: int
) -> tuple[CoefficientApplication, Mine]:
    found = repository.coefficient_application(session, application_id)
    if found is None or not principal.sees(found[2].path):
        raise NotFound(f"coefficient application {application_id} not found")
    return found[0], found[1]


def _application_to_decide(
    session: Session, principal: Principal, application_id: int
) -> tuple[CoefficientApplication, Mine]:
    found = repository.coefficient_application(session, application_id)
    what = f"coefficient application {application_id}"
    _decision_on(session, principal, "region:coefficient", found[2] if found else None, what)
    assert found is not None
    row, mine = found[0], found[1]
    _decide(principal, row, "coefficient application")
    return row, mine


def coefficient_application(
    session: Session, principal: Principal, application_id: int
) -> CoefficientApplicationOut:
    return _coefficient_out(*_visible_application(session, principal, application_id))


def coefficient_applications(
    session: Session,
    principal: Principal,
    *,
    mine: str | None = None,
    status: Status | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[CoefficientApplicationOut], int]:
    rows, total = _listed(
        session, principal, repository.coefficient_applications, mine, status, page, size
    )
    return [_coefficient_out(row, m) for row, m in rows], total


def approve_coefficient_application(
    session: Session, principal: Principal, application_id: int, now: datetime
) -> CoefficientApplicationOut:
    """The regulator approves: the coefficient is in force from its start date (a change
    application: from the day asked for, or today, to the end of that half-year)."""
    row, mine = _application_to_decide(session, principal, application_id)
    if row.kind == rules.ApplicationKind.CHANGE:
        first, last = rules.change_span(row.effective_from, local_day(now, ZoneInfo(mine.timezone)))
    else:
        assert row.effective_from is not None and row.effective_to is not None
        first, last = row.effective_from, row.effective_to
    mines.approve_coefficient(
        session,
        principal,
        mine.code,
        CoefficientIn(
            percent=Decimal(row.hundredths) / 100, effective_from=first, effective_to=last
        ),
        now,
    )
    row.approved_from, row.approved_to = first, last
    _decided(
        session,
        principal,
        row,
        mine,
        APPROVED,
        "coefficient_application.approve",
        {"from": first, "to": last},
        now,
    )
    return _coefficient_out(row, mine)


def reject_coefficient_application(
    session: Session, principal: Principal, application_id: int, data: RejectIn, now: datetime
) -> CoefficientApplicationOut:
    """The regulator rejects, saying why; nothing is in force."""
    row, mine = _application_to_decide(session, principal, application_id)
    row.decision_note = data.reason
    _decided(
        session,
        principal,
        row,
        mine,
        REJECTED,
        "coefficient_application.reject",
        {"reason": data.reason},
        now,
    )
    return _coefficient_out(row, mine)


# ---- manual production entries ---------------------------------------------------------


def _manual_out(session: Session, row: ManualEntry, mine: Mine, point: Point) -> ManualEntryOut:
    overlaps = (
        mine_repository.measured_between(session, point.id, row.start, row.end) > 0
        if row.status == PENDING
        else False
    )
    return ManualEntryOut(
        **_fields(row, mine),
        point=point.code,
        start=row.start,
        end=row.end,
        gross_t=kg_to_tonnes(row.gross_kg),
        reason=row.reason,
        overlaps_measured=overlaps,
    )


def submit_manual_entry(
    session: Session, principal: Principal, mine_code: str, data: ManualProductionIn, now: datetime
) -> ManualEntryOut:
    """Production entered by hand during a metering fault; it waits, not counted, until
    approved."""
    principal.require("production:write")
    mine, _ = mines.visible_mine(session, principal, mine_code)
    point = mines.mine_point(session, mine, data.point)
    start, end = data.start.astimezone(UTC), data.end.astimezone(UTC)
    if end > now:
        raise Invalid("manual production cannot end in the future")
    row = ManualEntry(
        mine_id=mine.id,
        point_id=point.id,
        start=start,
        end=end,
        gross_kg=tonnes_to_kg(data.gross_t),
        reason=data.reason,
        status=PENDING,
        applied_by=principal.name,
        applied_at=now,
    )
    repository.add(session, row)
    audit.record_change(
        session,
        actor=principal.name,
        action="manual_entry.submit",
        key=str(row.id),
        data=data,
        at=now,
    )
    return _manual_out(session, row, mine, point)


def _visible_entry(
    session: Session, principal: Principal, entry_id: int
) -> tuple[ManualEntry, Mine, Point]:
    found = repository.manual_entry(session, entry_id)
    if found is None or not principal.sees(found[2].path):
        raise NotFound(f"manual entry {entry_id} not found")
    return found[0], found[1], found[3]


def _entry_to_decide(
    session: Session, principal: Principal, entry_id: int
) -> tuple[ManualEntry, Mine, Point]:
    found = repository.manual_entry(session, entry_id)
    what = f"manual entry {entry_id}"
    _decision_on(session, principal, "production:approve", found[2] if found else None, what)
    assert found is not None
    row, mine, point = found[0], found[1], found[3]
    _decide(principal, row, "manual entry")
    return row, mine, point


def manual_entry(session: Session, principal: Principal, entry_id: int) -> ManualEntryOut:
    return _manual_out(session, *_visible_entry(session, principal, entry_id))


def manual_entries(
    session: Session,
    principal: Principal,
    *,
    mine: str | None = None,
    status: Status | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[ManualEntryOut], int]:
    rows, total = _listed(session, principal, repository.manual_entries, mine, status, page, size)
    return [_manual_out(session, row, m, p) for row, m, p in rows], total


def approve_manual_entry(
    session: Session, principal: Principal, entry_id: int, now: datetime
) -> ManualEntryOut:
    """Approved, the entry counts in production (marked manual), entered by its applicant
    and approved by the caller."""
    row, mine, point = _entry_to_decide(session, principal, entry_id)
    counted = mines.record_manual_production(
        session,
        principal,
        mine.code,
        ManualProductionIn(
            point=point.code,
            start=row.start,
            end=row.end,
            gross_t=kg_to_tonnes(row.gross_kg),
            reason=row.reason,
        ),
        now,
        entered_by=row.applied_by,
    )
    row.manual_production_id = counted.id
    _decided(
        session,
        principal,
        row,
        mine,
        APPROVED,
        "manual_entry.approve",
        {"manual_production": counted.id},
        now,
    )
    return _manual_out(session, row, mine, point)


def reject_manual_entry(
    session: Session, principal: Principal, entry_id: int, data: RejectIn, now: datetime
) -> ManualEntryOut:
    row, mine, point = _entry_to_decide(session, principal, entry_id)
    row.decision_note = data.reason
    _decided(
        session, principal, row, mine, REJECTED, "manual_entry.reject", {"reason": data.reason}, now
    )
    return _manual_out(session, row, mine, point)


def pending_counts(session: Session, principal: Principal) -> dict[str, int]:
    """How many applications wait for a decision in the principal's scope."""
    _, coefficients = _listed(
        session, principal, repository.coefficient_applications, None, PENDING, 1, 1
    )
    _, manual = _listed(session, principal, repository.manual_entries, None, PENDING, 1, 1)
    return {"coefficients": coefficients, "manual": manual}


# ---- a mine's requests for what a supervising unit decides -----------------------------

#: per kind: the request's schema and the decision's permission
REQUESTS: dict[RequestKind, tuple[type[BaseModel], str]] = {
    "capacity": (LicensedCapacityIn, "region:capacity"),
    "plan": (MonthPlanIn, "region:plan"),
    "permit": (PermitIn, "region:permit"),
}


def _kind(value: str) -> RequestKind:
    return next(kind for kind in REQUESTS if kind == value)


def _request_out(row: MineRequest, mine: Mine) -> RequestOut:
    kind = _kind(row.kind)
    return RequestOut(
        **_fields(row, mine),
        kind=kind,
        decided_with=REQUESTS[kind][1],
        detail=json.loads(row.payload),
    )


def submit_request(
    session: Session,
    principal: Principal,
    mine_code: str,
    kind: RequestKind,
    data: BaseModel,
    now: datetime,
) -> RequestOut:
    """A mine applies (``production:write``): a capacity change with its licence document,
    a month's plan, a maintenance permit. It waits, changing nothing, for the supervising
    unit above the mine."""
    principal.require("production:write")
    mine, _ = mines.visible_mine(session, principal, mine_code)
    if isinstance(data, PermitIn) and data.point:
        mines.mine_point(session, mine, data.point)
    row = MineRequest(
        mine_id=mine.id,
        kind=kind,
        payload=data.model_dump_json(),
        status=PENDING,
        applied_by=principal.name,
        applied_at=now,
    )
    repository.add(session, row)
    audit.record_change(
        session,
        actor=principal.name,
        action=f"{kind}_request.submit",
        key=str(row.id),
        data=data,
        at=now,
    )
    return _request_out(row, mine)


def _request_to_decide(
    session: Session, principal: Principal, request_id: int
) -> tuple[MineRequest, Mine]:
    found = repository.mine_request(session, request_id)
    # the permission depends on the request's kind: an unknown request is refused to a
    # caller holding none of them
    permission = (
        REQUESTS[_kind(found[0].kind)][1]
        if found
        else next((p for _, p in REQUESTS.values() if principal.has(p)), "region:capacity")
    )
    what = f"request {request_id}"
    _decision_on(session, principal, permission, found[2] if found else None, what)
    assert found is not None
    _decide(principal, found[0], "request")
    return found[0], found[1]


def approve_request(
    session: Session, principal: Principal, request_id: int, now: datetime
) -> RequestOut:
    """The supervising unit approves: the capacity, plan or permit is in force as its own
    decision (recorded as decided by the caller)."""
    row, mine = _request_to_decide(session, principal, request_id)
    schema, _ = REQUESTS[_kind(row.kind)]
    data = schema.model_validate_json(row.payload)
    if isinstance(data, LicensedCapacityIn):
        mines.set_capacity(session, principal, mine.code, data, now)
    elif isinstance(data, MonthPlanIn):
        plan = PlanIn(month_t=data.month_t, day_t=data.day_t, hour_t=data.hour_t)
        mines.set_plan(session, principal, mine.code, data.month, plan, now)
    else:
        assert isinstance(data, PermitIn)
        permits.approve_permit(session, principal, mine.code, data, now)
    _decided(session, principal, row, mine, APPROVED, f"{row.kind}_request.approve", {}, now)
    return _request_out(row, mine)


def reject_request(
    session: Session, principal: Principal, request_id: int, data: RejectIn, now: datetime
) -> RequestOut:
    row, mine = _request_to_decide(session, principal, request_id)
    row.decision_note = data.reason
    _decided(
        session,
        principal,
        row,
        mine,
        REJECTED,
        f"{row.kind}_request.reject",
        {"reason": data.reason},
        now,
    )
    return _request_out(row, mine)


def mine_requests(
    session: Session,
    principal: Principal,
    *,
    mine: str | None = None,
    kinds: tuple[RequestKind, ...] = (),
    status: Status | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[RequestOut], int]:
    if mine is not None:
        mines.visible_mine(session, principal, mine)
    rows, total = repository.mine_requests(
        session, principal.scope_path, mine=mine, status=status, page=page, size=size, kinds=kinds
    )
    return [_request_out(row, m) for row, m in rows], total
