"""区域监管 use cases: what a regulator sees of the region in scope (an org's subtree).

Figures come from ``production.service.org_production`` (exact sums rounded once, per
sub-region and per mine), open alarms from the alarms repository, faults from
``faults.service``: nothing is computed twice here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.acceptance import flags
from coalwatch.alarms import repository as alarm_repository
from coalwatch.auth.principal import Principal
from coalwatch.domain.periods import Period
from coalwatch.faults import service as faults
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs.service import visible_org
from coalwatch.penalties import repository as penalty_repository
from coalwatch.production import service as production
from coalwatch.production.schemas import Figure, MineProduction
from coalwatch.region import repository
from coalwatch.region.schemas import (
    RankedMine,
    Ranking,
    RegionFaults,
    RegionProduction,
    RegionRow,
    ReportState,
    ReportStateList,
)
from coalwatch.storage.models import Mine, Org

VIEW = "region:view"
#: how far back the list of faults not reported in time reaches
LATE_DAYS = 31


def region_production(
    session: Session,
    principal: Principal,
    code: str,
    period: Period,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: ZoneInfo,
) -> RegionProduction:
    """辖区产量: the region's total, each sub-region's subtotal and each mine's row."""
    principal.require(VIEW)
    org = visible_org(session, principal, code)
    whole = production.org_production(session, principal, org.code, period, start, end, now, tz)
    rows: list[RegionRow] = []
    if whole.total is not None:
        rows.append(
            RegionRow(kind="total", code=org.code, name=org.name, parent=None, figure=whole.total)
        )
    seen: set[str] = set()
    for child in org_repository.orgs_under(session, org.path):
        if child.parent_id != org.id:
            continue
        part = production.org_production(
            session, principal, child.code, period, start, end, now, tz
        )
        if not part.mines or part.total is None:
            continue
        rows.append(
            RegionRow(kind="org", code=child.code, name=child.name, parent=None, figure=part.total)
        )
        for mine in part.mines:
            seen.add(mine.mine)
            if mine.total is not None:
                rows.append(
                    RegionRow(
                        kind="mine",
                        code=mine.mine,
                        name=mine.name,
                        parent=child.code,
                        figure=mine.total,
                    )
                )
    for mine in whole.mines:  # mines directly in the region itself
        if mine.mine not in seen and mine.total is not None:
            rows.append(
                RegionRow(
                    kind="mine", code=mine.mine, name=mine.name, parent=None, figure=mine.total
                )
            )
    return RegionProduction(
        org=org.code,
        name=org.name,
        period=period,
        start=start,
        end=end,
        rows=_flag(session, org, rows, start, end),
    )


def _flag(
    session: Session, org: Org, rows: list[RegionRow], start: datetime, end: datetime
) -> list[RegionRow]:
    """未验收 on the mine rows with production while the mine's system was not accepted."""
    ids = {row.code: row.id for row in org_repository.mine_rows_under(session, org.path)}
    during = flags.unaccepted_during(session, list(ids.values()), start, end)
    return [
        r.model_copy(update={"unaccepted": True})
        if r.kind == "mine" and r.figure.gross_t > 0 and ids.get(r.code) in during
        else r
        for r in rows
    ]


def ranking(
    session: Session,
    principal: Principal,
    code: str,
    period: Period,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: ZoneInfo,
) -> Ranking:
    """超产排名: the mines by capacity ratio over the range, highest first, with their open
    alarms (a mine without capacity or plan comes last)."""
    principal.require(VIEW)
    org = visible_org(session, principal, code)
    whole = production.org_production(session, principal, org.code, period, start, end, now, tz)
    mines = {
        mine.code: (mine, unit) for mine, unit in org_repository.mines_under(session, org.path)
    }
    ids = [mine.id for mine, _ in mines.values()]
    counts = alarm_repository.open_counts(session, ids)
    states = flags.states_now(session, ids, now)
    during = flags.unaccepted_during(session, ids, start, end)
    penalty_counts = penalty_repository.counts(session, ids)
    rows: list[tuple[MineProduction, Figure, Mine, Org]] = []
    for item in whole.mines:
        if item.total is not None and item.mine in mines:
            rows.append((item, item.total, *mines[item.mine]))

    def key(row: tuple[MineProduction, Figure, Mine, Org]) -> tuple[bool, Decimal, Decimal, str]:
        figure = row[1]
        return (figure.ratio is None, -(figure.ratio or Decimal(0)), -figure.raw_t, row[0].mine)

    rows.sort(key=key)
    return Ranking(
        org=org.code,
        period=period,
        start=start,
        end=end,
        items=[
            RankedMine(
                rank=index,
                mine=mine.code,
                name=mine.name,
                org=unit.code,
                org_name=unit.name,
                raw_t=figure.raw_t,
                capacity_t=figure.capacity_t,
                plan_t=figure.plan_t,
                ratio=figure.ratio,
                over=figure.over,
                alarms_open=counts.get(mine.id, (0, 0))[0],
                acceptance=states[mine.id],
                unaccepted=figure.gross_t > 0 and mine.id in during,
                penalties_open=penalty_counts.get(mine.id, (0, 0))[0],
                penalties=penalty_counts.get(mine.id, (0, 0))[1],
            )
            for index, (_, figure, mine, unit) in enumerate(rows, start=1)
        ],
    )


def report_states(
    session: Session,
    principal: Principal,
    code: str,
    day: date,
    now: datetime,
    deadline_hour: int,
) -> ReportStateList:
    """Each mine's daily report of ``day``: submitted (here, or received from the mine's
    own center), pending, or overdue once ``deadline_hour`` of the next day (mine-local)
    has passed without all three signatures."""
    principal.require(VIEW)
    org = visible_org(session, principal, code)
    mines = [mine for mine, _ in org_repository.mines_under(session, org.path)]
    ids = [mine.id for mine in mines]
    signed_here = repository.submitted(session, ids, day)
    received = repository.received(session, ids, day)
    items = []
    for mine in mines:
        deadline = datetime.combine(
            day + timedelta(days=1), time(deadline_hour), ZoneInfo(mine.timezone)
        )
        revision = sha256 = submitted_at = received_at = None
        if mine.managed_by_center_id is not None:
            got = received.get(mine.id)
            if got is not None:
                revision, sha256 = got.revision, got.sha256
                submitted_at, received_at = got.submitted_at, got.received_at
        else:
            own = signed_here.get(mine.id)
            if own is not None:
                revision, sha256, submitted_at = own.revision, own.sha256, own.submitted_at
        state = (
            "submitted"
            if submitted_at is not None
            else ("overdue" if now >= deadline else "pending")
        )
        items.append(
            ReportState(
                mine=mine.code,
                name=mine.name,
                day=day,
                state=state,
                revision=revision,
                sha256=sha256,
                submitted_at=submitted_at,
                received_at=received_at,
                deadline=deadline,
            )
        )
    return ReportStateList(org=org.code, day=day, items=items)


def region_faults(
    session: Session,
    principal: Principal,
    code: str,
    now: datetime,
    tz: ZoneInfo,
    deadline_hour: int,
) -> RegionFaults:
    """故障与上报: open faults, faults not reported in time, overdue daily reports."""
    principal.require(VIEW)
    org = visible_org(session, principal, code)
    codes = {mine.code for mine, _ in org_repository.mines_under(session, org.path)}
    listed = [
        f for f in faults.list_faults(session, principal, None, False, now) if f.mine in codes
    ]
    since = now - timedelta(days=LATE_DAYS)
    yesterday = now.astimezone(tz).date() - timedelta(days=1)
    reports = report_states(session, principal, org.code, yesterday, now, deadline_hour)
    return RegionFaults(
        org=org.code,
        open=[f for f in listed if f.closed_at is None],
        late=[f for f in listed if f.report_lateness is not None and f.occurred_at >= since],
        reports=reports,
    )
