"""Suspect increments 可疑增量: listed for everyone who sees the mine's alarms, counted
or rejected only by a supervising user (a county, city or province office at or above
the mine, or an unscoped user) holding ``region:confirm``; both decisions audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms import engine
from coalwatch.alarms import repository as alarm_repository
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.accounting import IncrementKind
from coalwatch.domain.authority import SUPERVISING_KINDS
from coalwatch.domain.limits import MAX_MINE_HOUR_KG, MAX_MINE_HOUR_T
from coalwatch.domain.periods import Period, period_start
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.errors import N_, Conflict, Forbidden, NotFound
from coalwatch.mines.service import visible_mine
from coalwatch.production import repository as production_repository
from coalwatch.storage.models import Mine, Org, Point, Record, Station
from coalwatch.suspects.models import SuspectIncrement
from coalwatch.suspects.schemas import ConfirmIn, RejectIn, SuspectOut

CONFIRM = "region:confirm"


def list_suspects(
    session: Session, principal: Principal, mine_code: str, status: str | None = None
) -> list[SuspectOut]:
    mine, _ = visible_mine(session, principal, mine_code)
    query = (
        select(SuspectIncrement, Point.code, Station.code)
        .join(Point, Point.id == SuspectIncrement.point_id)
        .join(Station, Station.id == SuspectIncrement.station_id)
        .where(SuspectIncrement.mine_id == mine.id)
        .order_by(SuspectIncrement.ts.desc(), SuspectIncrement.id.desc())
    )
    if status is not None:
        query = query.where(SuspectIncrement.status == status)
    return [_out(s, mine.code, point, station) for s, point, station in session.execute(query)]


def confirm(
    session: Session, principal: Principal, suspect_id: int, data: ConfirmIn, now: datetime
) -> SuspectOut:
    """Count the increment, in the hour of its reading (rollups, figures, alarms)."""
    suspect, mine, org = _decidable(session, principal, suspect_id)
    production_repository.hold_mine(session, mine.id)
    tz = ZoneInfo(mine.timezone)
    hour = period_start(suspect.ts, Period.HOUR, tz)
    hour_utc = hour.astimezone(UTC)
    stored = production_repository.mine_hour_kg(session, mine.id, {hour_utc})
    if stored.get(hour_utc, (0, 0))[0] + suspect.increment_kg > MAX_MINE_HOUR_KG:
        raise Conflict(
            N_("确认后该小时产量将超过 %(limit)s t 的上限，只能驳回"),
            {"limit": str(MAX_MINE_HOUR_T)},
            params={"limit": str(MAX_MINE_HOUR_T)},
        )
    record = session.scalars(
        select(Record).where(
            Record.mine_id == suspect.mine_id,
            Record.station_id == suspect.station_id,
            Record.seq == suspect.seq,
        )
    ).one()
    record.increment_kg = suspect.increment_kg
    record.increment_kind = IncrementKind.CONFIRMED.value
    deltas = {(suspect.point_id, hour_utc): (hour.date(), suspect.increment_kg, 0)}
    totals = production_repository.add_to_rollups(session, mine.id, deltas)
    _decide(session, principal, suspect, mine, "confirmed", data.reason, now)
    engine.after_correction(session, mine, org.path, deltas, now, totals)
    return _described(session, suspect, mine)


def reject(
    session: Session, principal: Principal, suspect_id: int, data: RejectIn, now: datetime
) -> SuspectOut:
    """Never count the increment; the reason is kept and audited."""
    suspect, mine, _ = _decidable(session, principal, suspect_id)
    _decide(session, principal, suspect, mine, "rejected", data.reason, now)
    return _described(session, suspect, mine)


def _decidable(
    session: Session, principal: Principal, suspect_id: int
) -> tuple[SuspectIncrement, Mine, Org]:
    principal.require(CONFIRM)
    suspect = session.get(SuspectIncrement, suspect_id, with_for_update=True)
    if suspect is None:
        raise NotFound(f"suspect increment {suspect_id} not found")
    mine = session.get_one(Mine, suspect.mine_id)
    org = session.get_one(Org, mine.org_id)
    principal.require_visible(org.path, f"suspect increment {suspect_id}")
    if (
        principal.scope_path is not None
        and alarm_repository.org_kind(session, principal.scope_path) not in SUPERVISING_KINDS
    ):
        raise Forbidden(
            N_("可疑增量只能由监管单位（县级及以上）确认或驳回"),
            {"permission": CONFIRM, "decided_by": "supervising unit"},
        )
    if suspect.status != "held":
        raise Conflict(f"suspect increment {suspect_id} is {suspect.status} already")
    return suspect, mine, org


def _decide(
    session: Session,
    principal: Principal,
    suspect: SuspectIncrement,
    mine: Mine,
    status: str,
    reason: str | None,
    now: datetime,
) -> None:
    suspect.status = status
    suspect.decided_by = principal.name
    suspect.decided_at = now
    suspect.decision_reason = reason
    detail: dict[str, Any] = {
        "mine": mine.code,
        "seq": suspect.seq,
        "ts": suspect.ts.isoformat(),
        "increment_t": str(kg_to_tonnes(suspect.increment_kg)),
        "kind": suspect.kind,
        "reason": reason,
    }
    audit.record(
        session,
        actor=principal.name,
        action=f"suspect.{'confirm' if status == 'confirmed' else 'reject'}",
        entity="suspect_increment",
        key=str(suspect.id),
        detail=detail,
        at=now,
    )
    engine.end_suspect(session, mine, suspect, now)


def _described(session: Session, suspect: SuspectIncrement, mine: Mine) -> SuspectOut:
    point = session.get_one(Point, suspect.point_id)
    station = session.get_one(Station, suspect.station_id)
    return _out(suspect, mine.code, point.code, station.code)


def _out(suspect: SuspectIncrement, mine: str, point: str, station: str) -> SuspectOut:
    return SuspectOut(
        id=suspect.id,
        mine=mine,
        point=point,
        station=station,
        seq=suspect.seq,
        ts=suspect.ts,
        previous_ts=suspect.previous_ts,
        old_t=kg_to_tonnes(suspect.old_kg),
        new_t=kg_to_tonnes(suspect.new_kg),
        increment_t=kg_to_tonnes(suspect.increment_kg),
        kind=suspect.kind,
        reason=suspect.reason,
        limit_t=kg_to_tonnes(suspect.limit_kg),
        status=suspect.status,
        decided_by=suspect.decided_by,
        decided_at=suspect.decided_at,
        decision_reason=suspect.decision_reason,
    )
