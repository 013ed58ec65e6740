"""The duty log 运行日志, patrols 巡检 and shift handovers 交接班, per mine and shift.

Shifts are the mine's report shifts (reports.service.shifts_for). A shift that has
ended with fewer than two patrols is flagged. A handover is submitted and signed by the
outgoing operator (then frozen) and countersigned by the incoming one; the issues it
leaves unresolved are carried into the mine's next handover.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import duty as rules
from coalwatch.domain.reports import Shift
from coalwatch.duty import repository
from coalwatch.duty.models import DutyEntry, Handover, HandoverCheck, HandoverIssue, Patrol
from coalwatch.duty.schemas import (
    CheckOut,
    DutyEntryIn,
    DutyEntryOut,
    HandoverIn,
    HandoverOut,
    IssueOut,
    PatrolIn,
    PatrolOut,
    ShiftList,
    ShiftOut,
    SignIn,
)
from coalwatch.errors import Conflict, Forbidden, Invalid, NotFound
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.people import service as people
from coalwatch.reports.service import shifts_for
from coalwatch.storage.models import Mine, Org

#: a time written ahead of the center's clock by more than this is refused
FUTURE_TOLERANCE = timedelta(minutes=1)
#: the longest range of days a shift overview covers
MAX_DAYS = 92


class _Place(NamedTuple):
    """A mine with its time zone and report shifts."""

    mine: Mine
    tz: ZoneInfo
    shifts: tuple[Shift, ...]


def _mine(session: Session, principal: Principal, code: str) -> _Place:
    mine, _ = visible_mine(session, principal, code)
    return _Place(mine, ZoneInfo(mine.timezone), shifts_for(session, mine.id))


def _bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    if last < first:
        raise Invalid(f"the range ends ({last}) before it begins ({first})")
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start, end


def _when(at: datetime | None, now: datetime) -> datetime:
    at = at or now
    if at > now + FUTURE_TOLERANCE:
        raise Invalid(f"{at.isoformat()} is in the future")
    return at


def _stamp(
    principal: Principal, place: _Place, at: datetime | None, now: datetime
) -> dict[str, Any]:
    """The columns every log row has: the mine, the shift of its time (now unless given),
    who recorded it and when."""
    at = _when(at, now)
    slot = rules.slot_at(at, place.shifts, place.tz)
    return {
        "mine_id": place.mine.id,
        "shift_day": slot.day,
        "shift": slot.name,
        "at": at,
        "recorded_by": principal.name,
        "created_at": now,
    }


def _fields(row: DutyEntry | Patrol, mine: Mine) -> dict[str, Any]:
    """What a log row of either kind shows of its mine, shift and recorder."""
    return {
        "id": row.id,
        "mine": mine.code,
        "mine_name": mine.name,
        "shift_day": row.shift_day,
        "shift": row.shift,
        "at": row.at,
        "recorded_by": row.recorded_by,
    }


# ---- duty log -----------------------------------------------------------------------


def _entry_out(row: DutyEntry, mine: Mine) -> DutyEntryOut:
    return DutyEntryOut(**_fields(row, mine), text=row.text)


def add_entry(
    session: Session, principal: Principal, code: str, data: DutyEntryIn, now: datetime
) -> DutyEntryOut:
    principal.require("ledger:write")
    place = _mine(session, principal, code)
    row = DutyEntry(**_stamp(principal, place, data.at, now), text=data.text)
    repository.add(session, row)
    audit.record_change(
        session, actor=principal.name, action="duty.entry", key=str(row.id), data=data, at=now
    )
    return _entry_out(row, place.mine)


def entries(
    session: Session,
    principal: Principal,
    code: str,
    first: date,
    last: date,
    *,
    page: int = 1,
    size: int = 50,
) -> tuple[list[DutyEntryOut], int]:
    mine, tz, _ = _mine(session, principal, code)
    start, end = _bounds(first, last, tz)
    rows, total = repository.entries(session, mine.id, start, end, page, size)
    return [_entry_out(row, mine) for (row,) in rows], total


# ---- patrols ------------------------------------------------------------------------


def _patrol_out(row: Patrol, mine: Mine, point: str | None) -> PatrolOut:
    return PatrolOut(
        **_fields(row, mine),
        point=point,
        patrolled_by=row.patrolled_by,
        checked=row.checked,
        findings=row.findings,
    )


def add_patrol(
    session: Session, principal: Principal, code: str, data: PatrolIn, now: datetime
) -> PatrolOut:
    principal.require("ledger:write")
    place = _mine(session, principal, code)
    point = mine_point(session, place.mine, data.point) if data.point else None
    row = Patrol(
        **_stamp(principal, place, data.at, now),
        point_id=point.id if point else None,
        patrolled_by=data.patrolled_by or principal.name,
        checked=data.checked,
        findings=data.findings,
    )
    repository.add(session, row)
    audit.record_change(
        session, actor=principal.name, action="duty.patrol", key=str(row.id), data=data, at=now
    )
    return _patrol_out(row, place.mine, data.point)


def patrols(
    session: Session,
    principal: Principal,
    code: str,
    first: date,
    last: date,
    *,
    page: int = 1,
    size: int = 50,
) -> tuple[list[PatrolOut], int]:
    mine, tz, _ = _mine(session, principal, code)
    start, end = _bounds(first, last, tz)
    rows, total = repository.patrols(session, mine.id, start, end, page, size)
    return [_patrol_out(row, mine, point) for row, point in rows], total


def shift_overview(
    session: Session, principal: Principal, code: str, first: date, last: date, now: datetime
) -> ShiftList:
    """Every shift of the days, newest first: entries, patrols (flagged when the shift has
    ended with fewer than two) and its handover."""
    mine, tz, shifts = _mine(session, principal, code)
    _bounds(first, last, tz)
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"a shift overview covers at most {MAX_DAYS} days")
    slots = [s for s in rules.slots_between(first, last, shifts, tz) if s.start <= now]
    entry_counts = repository.counts(session, DutyEntry, mine.id, first, last)
    patrol_counts = repository.counts(session, Patrol, mine.id, first, last)
    handovers = {
        (h.shift_day, h.shift): h
        for h in repository.handovers_between(session, mine.id, first, last)
    }
    items = []
    for slot in reversed(slots):
        key = (slot.day, slot.name)
        n = patrol_counts.get(key, 0)
        handover = handovers.get(key)
        items.append(
            ShiftOut(
                mine=mine.code,
                day=slot.day,
                shift=slot.name,
                start=slot.start,
                end=slot.end,
                ended=slot.ended(now),
                entries=entry_counts.get(key, 0),
                patrols=n,
                patrols_short=rules.patrols_short(n, slot, now),
                handover=handover.id if handover else None,
                handover_state=_state(handover).value if handover else None,
            )
        )
    return ShiftList(items=items, short=sum(1 for i in items if i.patrols_short))


# ---- handovers ----------------------------------------------------------------------


def _state(row: Handover) -> rules.HandoverState:
    return rules.handover_state(
        row.outgoing_signed_at is not None, row.incoming_signed_at is not None
    )


def _issue_out(issue: HandoverIssue) -> IssueOut:
    return IssueOut(
        id=issue.id,
        text=issue.text,
        resolved=issue.resolved,
        resolution=issue.resolution,
        carried_from=issue.carried_from_id,
    )


def _handovers_out(session: Session, rows: list[Handover], mine: Mine) -> list[HandoverOut]:
    ids = [row.id for row in rows]
    checks: dict[int, dict[str, HandoverCheck]] = {}
    for check in repository.checks_of(session, ids):
        checks.setdefault(check.handover_id, {})[check.item] = check
    issues: dict[int, list[HandoverIssue]] = {}
    for issue in repository.issues_of(session, ids):
        issues.setdefault(issue.handover_id, []).append(issue)
    days = [row.shift_day for row in rows]
    patrol_counts = (
        repository.counts(session, Patrol, mine.id, min(days), max(days)) if days else {}
    )
    out = []
    for row in rows:
        state = _state(row)
        signer = rules.next_signer(state)
        out.append(
            HandoverOut(
                id=row.id,
                mine=mine.code,
                mine_name=mine.name,
                shift_day=row.shift_day,
                shift=row.shift,
                shift_end=row.shift_end,
                outgoing=row.outgoing,
                incoming=row.incoming,
                note=row.note,
                checks=[
                    CheckOut(
                        item=c.item,
                        label=rules.CHECK_LABELS[c.item],
                        ok=c.ok,
                        note=c.note,
                    )
                    for code in rules.CHECK_CODES
                    if (c := checks.get(row.id, {}).get(code)) is not None
                ],
                issues=[_issue_out(i) for i in issues.get(row.id, [])],
                state=state.value,
                next_signer="outgoing" if signer == "outgoing" else "incoming" if signer else None,
                outgoing_signed_at=row.outgoing_signed_at,
                incoming_signed_at=row.incoming_signed_at,
                incoming_note=row.incoming_note,
                patrols=patrol_counts.get((row.shift_day, row.shift), 0),
            )
        )
    return out


def _slot(
    data_day: date | None,
    data_shift: str | None,
    shifts: tuple[Shift, ...],
    tz: ZoneInfo,
    now: datetime,
) -> rules.ShiftSlot:
    if data_day is None and data_shift is None:
        return rules.slot_at(now, shifts, tz)
    if data_day is None or data_shift is None:
        raise Invalid("give both shift_day and shift, or neither (the shift running now)")
    for shift in shifts:
        if shift.name == data_shift:
            return rules.slot(data_day, shift, tz)
    raise Invalid(
        f"the mine has no shift {data_shift!r}; its shifts are {[s.name for s in shifts]}"
    )


def _certified(session: Session, principal: Principal, mine: Mine, now: datetime) -> None:
    """Both sides of a handover are on duty: each holds a valid certificate 持证上岗."""
    org = session.get(Org, mine.org_id)
    assert org is not None
    people.require_certified(session, principal, org, mine, "duty", now)


def carried(session: Session, principal: Principal, code: str, now: datetime) -> list[IssueOut]:
    """The unresolved issues the handover of the shift running now would carry in."""
    mine, tz, shifts = _mine(session, principal, code)
    slot = rules.slot_at(now, shifts, tz)
    previous = repository.previous_signed(session, mine.id, slot.end)
    if previous is None:
        return []
    return [_issue_out(i) for i in repository.issues_of(session, [previous.id]) if not i.resolved]


def create_handover(
    session: Session, principal: Principal, code: str, data: HandoverIn, now: datetime
) -> HandoverOut:
    """The outgoing operator hands over the shift, signing it (it is frozen from then on)."""
    principal.require("ledger:write")
    mine, tz, shifts = _mine(session, principal, code)
    _certified(session, principal, mine, now)
    slot = _slot(data.shift_day, data.shift, shifts, tz, now)
    if slot.start > now:
        raise Invalid(f"the shift {slot.name} of {slot.day} has not begun")
    if repository.handover_of(session, mine.id, slot.day, slot.name) is not None:
        raise Conflict(f"the shift {slot.name} of {slot.day} has been handed over already")
    if data.incoming == principal.name:
        raise Invalid("the incoming operator is someone other than the outgoing one")
    try:
        rules.check_handover([rules.Check(c.item, c.ok, c.note) for c in data.checks])
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    previous = repository.previous_signed(session, mine.id, slot.end)
    open_issues = (
        [i for i in repository.issues_of(session, [previous.id]) if not i.resolved]
        if previous
        else []
    )
    resolved = {r.issue: r.resolution for r in data.resolved}
    unknown = sorted(set(resolved) - {i.id for i in open_issues})
    if unknown:
        raise Invalid(f"issues {unknown} are not pending issues carried into this handover")
    row = Handover(
        mine_id=mine.id,
        shift_day=slot.day,
        shift=slot.name,
        shift_end=slot.end,
        outgoing=principal.name,
        incoming=data.incoming,
        note=data.note,
        outgoing_signed_at=now,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, row)
    carried_issues = rules.carried_over(
        [rules.Issue(i.id, i.text, i.resolved, i.carried_from_id) for i in open_issues]
    )
    repository.add(
        session,
        *(
            HandoverCheck(handover_id=row.id, item=c.item, ok=c.ok, note=c.note)
            for c in data.checks
        ),
        *(
            HandoverIssue(
                handover_id=row.id,
                text=issue.text,
                resolved=issue.origin in resolved,
                resolution=resolved.get(issue.origin or 0),
                carried_from_id=issue.origin,
            )
            for issue in carried_issues
        ),
        *(
            HandoverIssue(handover_id=row.id, text=text, resolved=False, resolution=None)
            for text in data.issues
        ),
    )
    audit.record_change(
        session, actor=principal.name, action="handover.create", key=str(row.id), data=data, at=now
    )
    return _handovers_out(session, [row], mine)[0]


def _visible_handover(
    session: Session, principal: Principal, handover_id: int
) -> tuple[Handover, Mine]:
    row = repository.handover(session, handover_id)
    if row is None:
        raise NotFound(f"handover {handover_id} not found")
    mine = session.get(Mine, row.mine_id)
    assert mine is not None
    try:
        visible_mine(session, principal, mine.code)
    except NotFound:
        raise NotFound(f"handover {handover_id} not found") from None
    return row, mine


def handover(session: Session, principal: Principal, handover_id: int) -> HandoverOut:
    row, mine = _visible_handover(session, principal, handover_id)
    return _handovers_out(session, [row], mine)[0]


def sign_handover(
    session: Session, principal: Principal, handover_id: int, data: SignIn, now: datetime
) -> HandoverOut:
    """The incoming operator countersigns; then the handover is complete."""
    principal.require("ledger:write")
    row, mine = _visible_handover(session, principal, handover_id)
    _certified(session, principal, mine, now)
    if rules.next_signer(_state(row)) is None:
        raise Conflict(f"handover {row.id} is signed by both sides; it cannot change")
    if principal.name != row.incoming:
        raise Forbidden(
            f"handover {row.id} waits for the incoming operator {row.incoming!r} to sign",
            code="not_the_signer",
        )
    row.incoming_signed_at, row.incoming_note, row.updated_at = now, data.note, now
    session.flush()
    audit.record_change(
        session, actor=principal.name, action="handover.sign", key=str(row.id), data=data, at=now
    )
    return _handovers_out(session, [row], mine)[0]


def handovers(
    session: Session,
    principal: Principal,
    code: str,
    first: date,
    last: date,
    *,
    page: int = 1,
    size: int = 50,
) -> tuple[list[HandoverOut], int]:
    mine, tz, _ = _mine(session, principal, code)
    _bounds(first, last, tz)
    rows, total = repository.handovers(session, mine.id, first, last, page, size)
    return _handovers_out(session, [r for (r,) in rows], mine), total
