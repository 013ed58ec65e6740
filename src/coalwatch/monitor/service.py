"""The live state of the mines in scope 实时监测: figures of the current hour, day,
month and year, conveyors, stations and open alarms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.acceptance import flags
from coalwatch.alarms import service as alarms
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import Thresholds
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.errors import Invalid, NotFound
from coalwatch.mines.service import visible_mine
from coalwatch.monitor import repository
from coalwatch.monitor.schemas import (
    MineStatus,
    Overview,
    PointState,
    RecordRow,
    StationState,
    Wall,
)
from coalwatch.orgs import repository as org_repository
from coalwatch.production import service as production
from coalwatch.storage.models import Mine, Org

#: mines with their points on the dashboard at most (the region view lists them all)
DASHBOARD_MINES = 12
ALARMS_SHOWN = 20
SORTS = ("ratio", "alarms", "code", "raw")
PERIODS = ("hour", "day", "month", "year")


def _online(last_seen_at: datetime | None, now: datetime) -> bool:
    limit = timedelta(minutes=Thresholds().comm_loss_minutes)
    return last_seen_at is not None and now - last_seen_at <= limit


def _points(session: Session, mine_ids: Sequence[int]) -> dict[int, list[PointState]]:
    out: dict[int, list[PointState]] = {m: [] for m in mine_ids}
    for point in repository.points_of(session, mine_ids):
        conveyor = repository.last_conveyor(session, point.id)
        sample = repository.last_sample(session, point.id)
        flow = sample[1] if sample else None
        out[point.mine_id].append(
            PointState(
                code=point.code,
                name=point.name,
                kind=point.kind,
                running=conveyor[1] if conveyor else None,
                conveyor_at=conveyor[0] if conveyor else None,
                flow_tph=None if flow is None else kg_to_tonnes(flow),
                last_sample_at=sample[0] if sample else None,
            )
        )
    return out


def _mines(
    session: Session, principal: Principal, mine: str | None, org: str | None
) -> list[tuple[Mine, Org]]:
    scope = principal.scope_path
    if org:
        found = org_repository.org_by_code(session, org)
        if found is None or not principal.sees(found.path):
            raise NotFound(f"org {org!r} not found")
        scope = found.path
    rows = org_repository.mines_under(session, scope)
    if mine:
        rows = [(m, o) for m, o in rows if m.code == mine]
        if not rows:
            raise NotFound(f"mine {mine!r} not found")
    return rows


def overview(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    mine: str | None = None,
    org: str | None = None,
    limit: int | None = DASHBOARD_MINES,
    details: bool = True,
    sort: str = "code",
    period: str = "day",
) -> Overview:
    """矿井总览 / 区域总览: every mine in scope (or one), sorted as asked.

    ``details`` adds each point's conveyor and latest sample (a few queries per
    point: the dashboard's handful of mines, not a province's region view).
    """
    rows = _mines(session, principal, mine, org)
    mines = [m for m, _ in rows]
    ids = [m.id for m in mines]
    current = production.current_figures(session, mines, now)
    counts = alarms.open_counts(session, ids)
    states = flags.states_now(session, ids, now)
    stations: dict[int, list[StationState]] = {m: [] for m in ids}
    for station in repository.stations_of(session, ids):
        stations[station.mine_id].append(
            StationState(
                code=station.code,
                last_seen_at=station.last_seen_at,
                online=_online(station.last_seen_at, now),
            )
        )
    statuses = [
        MineStatus(
            code=m.code,
            name=m.name,
            org=o.code,
            org_name=o.name,
            summary=current.mines[m.id],
            points=[],
            stations=stations[m.id],
            alarms_open=counts.get(m.id, (0, 0))[0],
            alarms_unacked=counts.get(m.id, (0, 0))[1],
            acceptance=states[m.id],
        )
        for m, o in rows
    ]
    statuses = _sorted(statuses, sort, period)
    shown = statuses if limit is None else statuses[:limit]
    if details:
        by_code = {m.code: m.id for m in mines}
        points = _points(session, [by_code[s.code] for s in shown])
        shown = [s.model_copy(update={"points": points[by_code[s.code]]}) for s in shown]
    all_stations = [s for group in stations.values() for s in group]
    return Overview(
        at=now,
        mines=shown,
        more=len(statuses) - len(shown),
        total={period.value: figure for period, figure in current.total.items()},
        alarms=alarms.open_alarms(session, ids, ALARMS_SHOWN),
        stations_online=sum(1 for s in all_stations if s.online),
        stations_total=len(all_stations),
        alarms_open=sum(c[0] for c in counts.values()),
        alarms_unacked=sum(c[1] for c in counts.values()),
    )


def _sorted(statuses: list[MineStatus], sort: str, period: str) -> list[MineStatus]:
    period = period if period in PERIODS else "day"

    def figure(status: MineStatus) -> tuple[Decimal, Decimal]:
        f = getattr(status.summary, period)
        return (f.ratio if f.ratio is not None else Decimal(-1), f.raw_t)

    if sort == "ratio":
        return sorted(statuses, key=lambda s: (figure(s), s.alarms_open), reverse=True)
    if sort == "raw":
        return sorted(statuses, key=lambda s: figure(s)[1], reverse=True)
    if sort == "alarms":
        return sorted(
            statuses, key=lambda s: (s.alarms_unacked, s.alarms_open, figure(s)), reverse=True
        )
    return sorted(statuses, key=lambda s: s.code)


def wall(session: Session, principal: Principal, now: datetime, tz: ZoneInfo) -> Wall:
    """大屏: the whole scope at a glance, with today's production per hour."""
    view = overview(session, principal, now, limit=None, details=False, sort="ratio")
    mines = [m for m, _ in _mines(session, principal, None, None)]
    return Wall(overview=view, hours=production.today_by_hour(session, mines, now, tz))


def records(
    session: Session,
    principal: Principal,
    mine_code: str,
    start: datetime | None,
    end: datetime | None,
    page: int,
    size: int,
) -> tuple[list[RecordRow], int]:
    """实时数据: a mine in scope's records received for [start, end), newest first; one
    page of ``size`` and how many there are."""
    mine, _ = visible_mine(session, principal, mine_code)
    if start is not None and end is not None and end <= start:
        raise Invalid("the end of the time range must be after its start")

    def tonnes(kg: int | None) -> Decimal | None:
        return None if kg is None else kg_to_tonnes(kg)

    found, total = repository.records_between(session, mine.id, start, end, (page - 1) * size, size)
    rows = [
        RecordRow(
            seq=r.seq,
            ts=r.ts,
            type=r.type,
            point=point,
            value_t=tonnes(r.value_kg),
            increment_t=tonnes(r.increment_kg),
            flow_tph=tonnes(r.flow_kgph),
            running=r.running,
            event=r.event,
            detail=r.detail,
        )
        for r, point in found
    ]
    return rows, total
