"""Acceptance 验收 of a mine's monitoring system and the licence's annual inspection 年检
(《山西省煤炭产量监控系统管理规定》第七条、第十四条; ``domain.acceptance``).

Only a supervising unit above the mine decides (``orgs.authority``, ``region:acceptance``):
it accepts a system under construction, suspends it, accepts it again at the resumption
and records the annual inspections, each with its record (number, file) and the next
inspection's due day. Everyone who sees the mine sees its state.

Timed rule (``tick``): production recorded while a mine's system is not accepted raises
``unaccepted_production`` (ended by the acceptance); an accepted system past its annual
inspection's due day raises ``inspection_overdue`` (ended by the inspection). Ingest does
nothing more per batch: the rule reads the hourly rollups.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.acceptance import repository
from coalwatch.acceptance.models import AcceptanceDecision
from coalwatch.acceptance.schemas import AcceptanceOut, DecisionIn, DecisionOut
from coalwatch.alarms import service as alarms
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import acceptance as rules
from coalwatch.domain.alarms import AlarmType, detail_params, local_minute
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.federation import downward
from coalwatch.mines.service import visible_mine
from coalwatch.orgs import authority
from coalwatch.orgs.repository import mines_under
from coalwatch.orgs.service import unit_of, visible_org
from coalwatch.storage.models import Mine, Org

DECIDE = "region:acceptance"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: how the decision travels down to the center holding the mine (federation/decisions.py)
DECISION_KIND = "acceptance.decide"
#: the next annual inspection is due within a year of the decision
MAX_INSPECTION_DAYS = 366
MAX_RECORD_BYTES = 10 * 1024 * 1024
RECORD_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


def _may_view(principal: Principal) -> None:
    if not (principal.has("region:view") or principal.has("monitor:view")):
        principal.require("region:view")


def _unit_out(session: Session, unit_id: int | None) -> tuple[str | None, str | None]:
    unit = session.get(Org, unit_id) if unit_id is not None else None
    return (unit.code, unit.name) if unit else (None, None)


def _decision_out(session: Session, d: AcceptanceDecision) -> DecisionOut:
    unit, unit_name = _unit_out(session, d.unit_id)
    return DecisionOut(
        id=d.id,
        kind=d.kind,
        passed=d.passed,
        state=d.state,
        decided_on=d.decided_on,
        decided_at=d.decided_at,
        decided_by=d.decided_by,
        unit=unit,
        unit_name=unit_name,
        record_no=d.record_no,
        note=d.note,
        inspection_due=d.inspection_due,
        record_name=d.record_name,
        record_sha256=d.record_sha256,
    )


def _describe(
    session: Session, pairs: list[tuple[Mine, Org]], now: datetime, full: bool = False
) -> list[AcceptanceOut]:
    ids = [mine.id for mine, _ in pairs]
    last = repository.latest(session, ids)
    accepting = repository.last_accepting(session, ids)
    out = []
    for mine, org in pairs:
        current = last.get(mine.id)
        state = current.state if current else rules.UNDER_CONSTRUCTION
        accepted = state == rules.ACCEPTED
        basis = accepting.get(mine.id) if accepted else None
        today = now.astimezone(ZoneInfo(mine.timezone)).date()
        due = basis.inspection_due if basis else None
        unit = _unit_out(session, basis.unit_id)[1] if basis else None
        out.append(
            AcceptanceOut(
                mine=mine.code,
                name=mine.name,
                org=org.code,
                state=state,
                accepted=accepted,
                since=(
                    repository.effective(current.decided_on, mine.timezone)
                    if current
                    else mine.created_at
                ),
                accepted_by=basis.decided_by if basis else None,
                accepted_unit=unit,
                accepted_on=basis.decided_on if basis else None,
                record_no=basis.record_no if basis else None,
                inspection_due=due,
                inspection_overdue=accepted and rules.inspection_overdue(due, today),
                decisions=(
                    [_decision_out(session, d) for d in repository.decisions(session, mine.id)]
                    if full
                    else []
                ),
            )
        )
    return out


def acceptance_of(
    session: Session, principal: Principal, code: str, now: datetime
) -> AcceptanceOut:
    """A mine's state, the acceptance in force and every decision."""
    _may_view(principal)
    mine, org = visible_mine(session, principal, code)
    return _describe(session, [(mine, org)], now, full=True)[0]


def board(
    session: Session, principal: Principal, org_code: str | None, now: datetime
) -> list[AcceptanceOut]:
    """The state of every mine of the org (else of the principal's whole scope)."""
    _may_view(principal)
    path = visible_org(session, principal, org_code).path if org_code else principal.scope_path
    return _describe(session, mines_under(session, path), now)


def decide(
    session: Session, principal: Principal, code: str, data: DecisionIn, now: datetime
) -> AcceptanceOut:
    """Record a supervising unit's decision; the system's state follows from it."""
    principal.require(DECIDE)
    mine, org = visible_mine(session, principal, code)
    authority.require_decision(session, principal, DECIDE, org)
    session.refresh(mine, with_for_update=True)  # one decision at a time per mine
    tz = ZoneInfo(mine.timezone)
    history = repository.decisions(session, mine.id)
    state = history[-1].state if history else rules.UNDER_CONSTRUCTION
    if state not in rules.ALLOWED_FROM[data.kind]:
        raise Conflict(
            N_("监控系统%(state)s，不能进行%(kind)s"),
            {"state": state, "kind": data.kind},
            params={
                "state": rules.STATE_LABELS[state],
                "kind": rules.KIND_LABELS[data.kind],
            },
            labels=("state", "kind"),
        )
    today = now.astimezone(tz).date()
    if data.decided_on > today:
        raise Invalid(N_("决定日期不能晚于今天"), {"field": "decided_on"})
    if history and data.decided_on < history[-1].decided_on:
        raise Invalid(N_("决定日期不能早于上一次决定"), {"field": "decided_on"})
    result = rules.result(data.kind, data.passed)
    _check(data, result)
    unit = unit_of(session, principal) or authority.deciding_unit(session, org)
    upstream = downward.from_upstream(session)
    if unit is None and upstream is None:  # may_decide would have refused
        raise Forbidden(N_("本中心没有矿井之上的监管单位"), {"permission": DECIDE})
    made = AcceptanceDecision(
        mine_id=mine.id,
        kind=data.kind,
        passed=data.passed if data.kind != "suspension" else False,
        state=result,
        decided_on=data.decided_on,
        decided_at=now,
        decided_by=principal.name,
        # decided by the upstream's unit (named in decided_by), applied here
        unit_id=unit.id if unit is not None and upstream is None else None,
        record_no=data.record_no,
        note=data.note,
        inspection_due=data.inspection_due if result == rules.ACCEPTED else None,
    )
    session.add(made)
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action=f"acceptance.{data.kind}",
        entity="acceptance",
        key=mine.code,
        detail={
            **data.model_dump(mode="json"),
            "state": result,
            "unit": upstream or (unit.code if unit else None),
        },
        at=now,
    )
    if upstream is None and unit is not None and mine.managed_by_center_id is not None:
        # the center that holds the mine below learns the decision (federation/downward.py)
        downward.publish_decision(
            session,
            mine,
            DECISION_KIND,
            {"key": mine.code, "data": data.model_dump(mode="json")},
            now=now,
            decided_by=principal.name,
            unit=f"{unit.code} {unit.name}",
        )
    if result == rules.ACCEPTED:  # at once, not at the next round
        alarms.end_condition(
            session, mine_id=mine.id, type_=AlarmType.UNACCEPTED_PRODUCTION, at=now
        )
        if not rules.inspection_overdue(made.inspection_due, today):
            alarms.end_condition(
                session, mine_id=mine.id, type_=AlarmType.INSPECTION_OVERDUE, at=now
            )
    else:
        alarms.end_condition(session, mine_id=mine.id, type_=AlarmType.INSPECTION_OVERDUE, at=now)
    return _describe(session, [(mine, org)], now, full=True)[0]


def _check(data: DecisionIn, result: str) -> None:
    if result == rules.ACCEPTED:
        if data.record_no is None:
            raise Invalid(N_("验收合格须填写验收记录编号"), {"field": "record_no"})
        due = data.inspection_due
        if due is None or not (
            data.decided_on < due <= data.decided_on + timedelta(days=MAX_INSPECTION_DAYS)
        ):
            raise Invalid(
                N_("验收合格须填写下次年检日期（决定日期之后一年以内）"),
                {"field": "inspection_due"},
            )
    else:
        if data.note is None:
            raise Invalid(N_("暂停或不合格须写明原因"), {"field": "note"})
        if data.inspection_due is not None:
            raise Invalid(N_("只有验收合格才定下次年检日期"), {"field": "inspection_due"})


def _visible_decision(
    session: Session, principal: Principal, decision_id: int
) -> tuple[AcceptanceDecision, Mine, Org]:
    found = repository.decision(session, decision_id)
    if found is None:
        raise NotFound(f"acceptance decision {decision_id} not found")
    mine = session.get_one(Mine, found.mine_id)
    org = session.get_one(Org, mine.org_id)
    principal.require_visible(org.path, f"acceptance decision {decision_id}")
    return found, mine, org


def set_record(
    session: Session,
    principal: Principal,
    decision_id: int,
    body: bytes,
    media_type: str,
    filename: str | None,
    now: datetime,
) -> DecisionOut:
    """The acceptance record 验收记录 as a file (PDF, JPEG or PNG, at most 10 MB), kept
    with its SHA-256 (in the audit log too); by the unit that may decide."""
    principal.require(DECIDE)
    found, mine, org = _visible_decision(session, principal, decision_id)
    authority.require_decision(session, principal, DECIDE, org)
    media_type = media_type.split(";")[0].strip().lower()
    if media_type not in RECORD_TYPES:
        raise Invalid(f"a record is one of {sorted(RECORD_TYPES)}, not {media_type!r}")
    if not body or len(body) > MAX_RECORD_BYTES:
        raise Invalid(f"a record has 1 to {MAX_RECORD_BYTES} bytes, not {len(body)}")
    if found.record_file is not None:
        raise Conflict(f"acceptance decision {decision_id} has its record already")
    digest = hashlib.sha256(body).hexdigest()
    found.record_file, found.record_type = body, media_type
    found.record_name = (filename or "")[:200] or f"acceptance-{mine.code}-{found.id}"
    found.record_sha256 = digest
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="acceptance.record",
        entity="acceptance",
        key=mine.code,
        detail={
            "decision": found.id,
            "media_type": media_type,
            "bytes": len(body),
            "sha256": digest,
        },
        at=now,
    )
    return _decision_out(session, found)


def record_file(session: Session, principal: Principal, decision_id: int) -> tuple[bytes, str, str]:
    _may_view(principal)
    found, _, _ = _visible_decision(session, principal, decision_id)
    if found.record_file is None or found.record_type is None:
        raise NotFound(f"acceptance decision {decision_id} has no record file")
    return found.record_file, found.record_type, found.record_name or f"acceptance-{found.id}"


# ---- timed rule ------------------------------------------------------------------------


def tick(session: Session, now: datetime) -> None:
    """``unaccepted_production`` and ``inspection_overdue`` for the mines of this center:
    a few queries a round whatever the number of mines (alarms are ended only where one
    is open)."""
    mines = repository.own_mines(session)
    if not mines:
        return
    histories = repository.histories(session, [m.id for m in mines])
    open_unaccepted = alarms.mines_with_open(session, AlarmType.UNACCEPTED_PRODUCTION)
    open_overdue = alarms.mines_with_open(session, AlarmType.INSPECTION_OVERDUE)
    since: dict[int, datetime] = {}
    for mine in mines:
        history = histories.get(mine.id, [])
        if rules.state_at(history, now) != rules.ACCEPTED:
            # never accepted: all its production, a backlog older than the mine's entry too
            since[mine.id] = rules.unaccepted_since(history, now) or EPOCH
        elif mine.id in open_unaccepted:
            alarms.end_condition(
                session, mine_id=mine.id, type_=AlarmType.UNACCEPTED_PRODUCTION, at=now
            )
    # a mine alarmed already stays alarmed until accepted: only the others are read
    produced = repository.produced_since(
        session, {m: at for m, at in since.items() if m not in open_unaccepted}
    )
    accepting = repository.last_accepting(session, [m.id for m in mines if m.id not in since])
    for mine in mines:
        history = histories.get(mine.id, [])
        overdue_at: datetime | None = None
        if mine.id in since:
            if mine.id in produced:
                first, kg = produced[mine.id]
                alarms.raise_alarm(
                    session,
                    mine_id=mine.id,
                    type_=AlarmType.UNACCEPTED_PRODUCTION,
                    at=max(first, since[mine.id]),
                    value=str(kg_to_tonnes(kg)),
                    params=detail_params(
                        "unaccepted",
                        acceptance=history[-1].state if history else rules.UNDER_CONSTRUCTION,
                        since=local_minute(
                            history[-1].at if history else mine.created_at,
                            ZoneInfo(mine.timezone),
                        ),
                        produced=kg_to_tonnes(kg),
                    ),
                )
        else:
            basis = accepting.get(mine.id)
            tz = ZoneInfo(mine.timezone)
            due = basis.inspection_due if basis else None
            if due is not None and rules.inspection_overdue(due, now.astimezone(tz).date()):
                overdue_at = datetime.combine(due + timedelta(days=1), time(), tz)
                alarms.raise_alarm(
                    session,
                    mine_id=mine.id,
                    type_=AlarmType.INSPECTION_OVERDUE,
                    at=overdue_at.astimezone(UTC),
                    threshold=due.isoformat(),
                    params=detail_params("inspection_due", due=due.isoformat()),
                )
        if overdue_at is None and mine.id in open_overdue:
            alarms.end_condition(
                session, mine_id=mine.id, type_=AlarmType.INSPECTION_OVERDUE, at=now
            )
