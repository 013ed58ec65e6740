"""Mines and their configuration: capacity, plans, coefficients, points, stations,
and manual production."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import coefficients as coefficient_rules
from coalwatch.domain.accounting import spread_over_hours
from coalwatch.domain.capacity import CapacityChange, approved_annual
from coalwatch.domain.limits import MAX_MANUAL_HOURS, MAX_MINE_HOUR_KG, MAX_MINE_HOUR_T
from coalwatch.domain.periods import local_day, month_key
from coalwatch.domain.units import fraction_to_decimal, kg_to_tonnes, tonnes_to_kg
from coalwatch.errors import N_, CoalwatchError, Conflict, Invalid, NotFound
from coalwatch.federation.queue import enqueue_config
from coalwatch.mines import repository
from coalwatch.mines.schemas import (
    CapacityIn,
    CapacityOut,
    CapacityRow,
    CoefficientIn,
    CoefficientOut,
    ManualProductionIn,
    ManualProductionOut,
    MineConfig,
    MineIn,
    MineOut,
    PlanIn,
    PlanOut,
    PointIn,
    PointOut,
    ReductionOut,
    StationIn,
    StationOut,
)
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs.authority import require_decision
from coalwatch.orgs.service import unavailable, visible_org
from coalwatch.production import repository as production_repository
from coalwatch.storage.models import (
    Capacity,
    CapacityReduction,
    Coefficient,
    ManualProduction,
    Mine,
    Org,
    Plan,
    Point,
    Station,
)
from coalwatch.wire.signing import parse_public_key

#: an initial capacity without a date is in force from the start
FROM_THE_START = date.min


def visible_mine(session: Session, principal: Principal, code: str) -> tuple[Mine, Org]:
    found = repository.mine_by_code(session, code)
    if found is None or not principal.sees(found[1].path):
        raise NotFound(f"mine {code!r} not found")
    return found


def mine_point(
    session: Session, mine: Mine, code: str, *, missing: type[CoalwatchError] = Invalid
) -> Point:
    """A point of a mine by its code; ``missing`` (422 by default, 404 where the point is
    part of the address) when the mine has none."""
    point = repository.point_by_code(session, mine.id, code)
    if point is None:
        raise missing(f"no point {code!r} in mine {mine.code!r}")
    return point


def _kg(tonnes: Decimal) -> int:
    return tonnes_to_kg(tonnes)


def _t(kg: int | None) -> Decimal | None:
    return None if kg is None else kg_to_tonnes(kg)


def create_mine(
    session: Session, principal: Principal, data: MineIn, default_tz: str, now: datetime
) -> MineOut:
    principal.require("system:write")
    org = visible_org(session, principal, data.org)
    if repository.mine_by_code(session, data.code) is not None:
        raise unavailable(N_("矿井编码"), data.code)
    timezone = data.timezone or default_tz
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown time zone {timezone!r}") from exc
    mine = Mine(code=data.code, name=data.name, org_id=org.id, timezone=timezone, created_at=now)
    repository.add(session, mine)
    repository.add(
        session,
        Capacity(
            mine_id=mine.id,
            annual_kg=_kg(data.annual_capacity_t),
            effective_from=data.capacity_effective_from or FROM_THE_START,
            created_at=now,
        ),
    )
    audit.record_change(
        session, actor=principal.name, action="mine.create", key=mine.code, data=data, at=now
    )
    # the time zone as resolved here: the upstream's default may differ
    enqueue_config(
        session,
        "mine.create",
        mine.code,
        data.model_copy(update={"timezone": timezone}).model_dump(mode="json"),
        now,
    )
    return describe_mines(session, [(mine, org)], now)[0]


def describe_mines(session: Session, mines: list[tuple[Mine, Org]], now: datetime) -> list[MineOut]:
    ids = [mine.id for mine, _ in mines]
    points: dict[int, list[Point]] = {}
    for point in repository.points_of(session, ids):
        points.setdefault(point.mine_id, []).append(point)
    stations: dict[int, list[Station]] = {}
    for station in repository.stations_of(session, ids):
        stations.setdefault(station.mine_id, []).append(station)
    out = []
    for mine, org in mines:
        today = local_day(now, ZoneInfo(mine.timezone))
        current = approved_annual(
            [
                CapacityChange(kg_to_tonnes(c.annual_kg), c.effective_from)
                for c in repository.capacities_of(session, mine.id)
            ],
            today,
        )
        out.append(
            MineOut(
                code=mine.code,
                name=mine.name,
                org=org.code,
                timezone=mine.timezone,
                annual_capacity_t=None if current is None else fraction_to_decimal(current, 3),
                points=[_point_out(p) for p in points.get(mine.id, [])],
                stations=[
                    StationOut(
                        code=s.code,
                        public_key=s.public_key,
                        acked_seq=s.max_seq,
                        last_seen_at=s.last_seen_at,
                    )
                    for s in stations.get(mine.id, [])
                ],
            )
        )
    return out


def list_mines(session: Session, principal: Principal, now: datetime) -> list[MineOut]:
    return describe_mines(session, org_repository.mines_under(session, principal.scope_path), now)


def _point_out(point: Point) -> PointOut:
    return PointOut(
        code=point.code,
        name=point.name,
        kind=point.kind,
        rollover_t=_t(point.rollover_kg),
        max_flow_tph=_t(point.max_flow_kgph),
        min_trip_t=_t(point.min_trip_kg),
        window_min=point.window_min,
        window_min_t=_t(point.window_min_kg),
    )


def set_capacity(
    session: Session, principal: Principal, code: str, data: CapacityIn, now: datetime
) -> CapacityOut:
    """核定生产能力 and its changes: decided by a supervising unit above the mine."""
    mine, org = visible_mine(session, principal, code)
    require_decision(session, principal, "region:capacity", org)
    repository.add(
        session,
        Capacity(
            mine_id=mine.id,
            annual_kg=_kg(data.annual_capacity_t),
            effective_from=data.effective_from,
            created_at=now,
            licence_no=data.licence_no,
            licence_date=data.licence_date,
            decided_by=principal.name,
        ),
    )
    audit.record_change(
        session, actor=principal.name, action="mine.capacity", key=mine.code, data=data, at=now
    )
    enqueue_config(session, "mine.capacity", mine.code, data.model_dump(mode="json"), now)
    return CapacityOut(
        mine=mine.code,
        annual_capacity_t=data.annual_capacity_t,
        effective_from=data.effective_from,
        licence_no=data.licence_no,
        licence_date=data.licence_date,
        decided_by=principal.name,
    )


def set_plan(
    session: Session, principal: Principal, code: str, month: str, data: PlanIn, now: datetime
) -> PlanOut:
    """A month's plan 产量计划, approved by a supervising unit above the mine (until one
    is, the capacity ratio divides by the capacity)."""
    mine, org = visible_mine(session, principal, code)
    require_decision(session, principal, "region:plan", org)
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError as exc:
        raise Invalid(f"month must be YYYY-MM, got {month!r}") from exc
    plan = repository.plan_for(session, mine.id, first)
    if plan is None:
        plan = Plan(mine_id=mine.id, month=month_key(first), month_kg=0, updated_at=now)
        repository.add(session, plan)
    plan.month_kg = _kg(data.month_t)
    plan.day_kg = None if data.day_t is None else _kg(data.day_t)
    plan.hour_kg = None if data.hour_t is None else _kg(data.hour_t)
    plan.updated_at = now
    audit.record_change(
        session,
        actor=principal.name,
        action="mine.plan",
        key=f"{mine.code}/{month}",
        data=data,
        at=now,
    )
    enqueue_config(session, "mine.plan", f"{mine.code}/{month}", data.model_dump(mode="json"), now)
    return PlanOut(
        mine=mine.code, month=month, month_t=data.month_t, day_t=data.day_t, hour_t=data.hour_t
    )


def approve_coefficient(
    session: Session, principal: Principal, code: str, data: CoefficientIn, now: datetime
) -> CoefficientOut:
    """Record an approved coefficient (a supervising unit's decision); later approvals win
    for the dates they share."""
    mine, org = visible_mine(session, principal, code)
    require_decision(session, principal, "region:coefficient", org)
    try:
        hundredths = coefficient_rules.percent_to_hundredths(data.percent)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    repository.add(
        session,
        Coefficient(
            mine_id=mine.id,
            hundredths=hundredths,
            effective_from=data.effective_from,
            effective_to=data.effective_to,
            created_at=now,
        ),
    )
    approvals = repository.coefficients_of(session, mine.id)
    spans = coefficient_rules.spans_in_force(
        [
            coefficient_rules.Coefficient(a.hundredths, a.effective_from, a.effective_to)
            for a in approvals
        ]
    )
    repository.replace_spans(session, mine.id, approvals, spans)
    # raw coal of the approval's days changes: the running totals of their months and
    # years are summed again
    production_repository.recompute_totals(session, mine.id, data.effective_from, data.effective_to)
    audit.record_change(
        session, actor=principal.name, action="mine.coefficient", key=mine.code, data=data, at=now
    )
    enqueue_config(session, "mine.coefficient", mine.code, data.model_dump(mode="json"), now)
    return CoefficientOut(
        mine=mine.code,
        percent=data.percent,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
    )


def create_point(
    session: Session, principal: Principal, code: str, data: PointIn, now: datetime
) -> PointOut:
    principal.require("system:write")
    mine, _ = visible_mine(session, principal, code)
    if repository.point_by_code(session, mine.id, data.code) is not None:
        raise Conflict(f"point {data.code!r} exists already in mine {mine.code!r}")
    if (data.window_min is None) != (data.window_min_t is None):
        raise Invalid("window_min and window_min_t go together")
    point = Point(
        mine_id=mine.id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        rollover_kg=None if data.rollover_t is None else _kg(data.rollover_t),
        max_flow_kgph=None if data.max_flow_tph is None else _kg(data.max_flow_tph),
        min_trip_kg=None if data.min_trip_t is None else _kg(data.min_trip_t),
        window_min=data.window_min,
        window_min_kg=None if data.window_min_t is None else _kg(data.window_min_t),
        created_at=now,
    )
    if point.rollover_kg == 0:
        raise Invalid("rollover_t must be positive")
    repository.add(session, point)
    audit.record_change(
        session,
        actor=principal.name,
        action="point.create",
        key=f"{mine.code}/{point.code}",
        data=data,
        at=now,
    )
    enqueue_config(session, "point.create", mine.code, data.model_dump(mode="json"), now)
    return _point_out(point)


def register_station(
    session: Session, principal: Principal, code: str, data: StationIn, now: datetime
) -> StationOut:
    principal.require("system:write")
    mine, _ = visible_mine(session, principal, code)
    try:
        parse_public_key(data.public_key)
    except ValueError as exc:
        raise Invalid(f"public_key: {exc}") from exc
    if repository.station_by_code(session, data.code) is not None:
        raise unavailable(N_("主站编码"), data.code)
    station = Station(
        mine_id=mine.id, code=data.code, public_key=data.public_key, max_seq=0, created_at=now
    )
    repository.add(session, station)
    audit.record_change(
        session,
        actor=principal.name,
        action="station.register",
        key=station.code,
        data=data,
        at=now,
    )
    enqueue_config(session, "station.register", mine.code, data.model_dump(mode="json"), now)
    return StationOut(
        code=station.code, public_key=station.public_key, acked_seq=0, last_seen_at=None
    )


def record_manual_production(
    session: Session,
    principal: Principal,
    code: str,
    data: ManualProductionIn,
    now: datetime,
    *,
    entered_by: str | None = None,
) -> ManualProductionOut:
    """Production entered by hand during a metering fault, approved by the caller.

    It counts in the figures, marked as manual, spread over the hours of its
    window; a window that overlaps measured production is flagged for review.
    ``entered_by``: who entered it, when the caller approves someone else's entry
    (the workflow of coalwatch.workflows); the caller by default. Approving is a
    supervising unit's act (``production:approve``); a mine's staff apply instead.
    """
    mine, org = visible_mine(session, principal, code)
    require_decision(session, principal, "production:approve", org)
    point = mine_point(session, mine, data.point)
    start, end = data.start.astimezone(UTC), data.end.astimezone(UTC)
    if end > now:
        raise Invalid("manual production cannot end in the future")
    if end - start > timedelta(hours=MAX_MANUAL_HOURS):
        raise Invalid(f"manual production spans at most {MAX_MANUAL_HOURS} hours (a year)")
    gross_kg = _kg(data.gross_t)
    tz = ZoneInfo(mine.timezone)
    shares = spread_over_hours(start, end, gross_kg, tz)
    production_repository.hold_mine(session, mine.id)
    stored = production_repository.mine_hour_kg(
        session, mine.id, [hour.astimezone(UTC) for hour, _ in shares]
    )
    for hour, kg in shares:
        manual = stored.get(hour.astimezone(UTC), (0, 0))[1] + kg
        if manual > MAX_MINE_HOUR_KG:
            raise Invalid(
                f"manual production of the hour from {hour:%Y-%m-%d %H:00} would reach "
                f"{kg_to_tonnes(manual)} t, above the {MAX_MINE_HOUR_T} t an hour a mine "
                "can produce"
            )
    entry = ManualProduction(
        mine_id=mine.id,
        point_id=point.id,
        start=start,
        end=end,
        gross_kg=gross_kg,
        reason=data.reason,
        entered_by=entered_by or principal.name,
        approved_by=principal.name,
        overlaps_measured=repository.measured_between(session, point.id, start, end) > 0,
        created_at=now,
    )
    repository.add(session, entry)
    production_repository.add_to_rollups(
        session,
        mine.id,
        {(point.id, hour.astimezone(UTC)): (local_day(hour, tz), 0, kg) for hour, kg in shares},
    )
    audit.record_change(
        session,
        actor=principal.name,
        action="production.manual",
        key=str(entry.id),
        data=data,
        at=now,
    )
    enqueue_config(session, "production.manual", mine.code, data.model_dump(mode="json"), now)
    return _manual_out(entry, mine.code, point.code)


def _manual_out(entry: ManualProduction, mine: str, point: str) -> ManualProductionOut:
    return ManualProductionOut(
        id=entry.id,
        mine=mine,
        point=point,
        start=entry.start,
        end=entry.end,
        gross_t=kg_to_tonnes(entry.gross_kg),
        reason=entry.reason,
        entered_by=entry.entered_by,
        approved_by=entry.approved_by,
        overlaps_measured=entry.overlaps_measured,
    )


def apply_reduction(
    session: Session,
    mine: Mine,
    amount_t: Fraction,
    effective_from: date,
    reason: str,
    now: datetime,
) -> CapacityReduction:
    """Lower a mine's capacity 核减 from a date to the end of that year (exactly)."""
    if amount_t <= 0:
        raise Invalid("a reduction must be positive")
    amount_kg = amount_t * 1000
    reduction = CapacityReduction(
        mine_id=mine.id,
        amount_kg_num=amount_kg.numerator,
        amount_kg_den=amount_kg.denominator,
        effective_from=effective_from,
        reason=reason,
        created_at=now,
    )
    repository.add(session, reduction)
    enqueue_config(
        session,
        "mine.reduction",
        mine.code,
        {
            "amount_kg_num": reduction.amount_kg_num,
            "amount_kg_den": reduction.amount_kg_den,
            "effective_from": effective_from.isoformat(),
            "reason": reason,
        },
        now,
    )
    return reduction


def mine_config(session: Session, principal: Principal, code: str, now: datetime) -> MineConfig:
    """A mine with its capacities, reductions, plans, coefficients and manual entries."""
    mine, org = visible_mine(session, principal, code)
    points = {p.id: p.code for p in repository.points_of(session, [mine.id])}
    return MineConfig(
        mine=describe_mines(session, [(mine, org)], now)[0],
        capacities=[
            CapacityRow(
                annual_capacity_t=kg_to_tonnes(c.annual_kg),
                effective_from=None if c.effective_from == FROM_THE_START else c.effective_from,
                licence_no=c.licence_no,
                licence_date=c.licence_date,
                decided_by=c.decided_by,
            )
            for c in repository.capacities_of(session, mine.id)
        ],
        reductions=[
            ReductionOut(
                effective_from=r.effective_from,
                amount_t=fraction_to_decimal(Fraction(r.amount_kg_num, r.amount_kg_den * 1000), 3),
                reason=r.reason,
                status=r.status,
            )
            for r in repository.reductions_of(session, mine.id)
        ],
        plans=[
            PlanOut(
                mine=mine.code,
                month=p.month.strftime("%Y-%m"),
                month_t=kg_to_tonnes(p.month_kg),
                day_t=_t(p.day_kg),
                hour_t=_t(p.hour_kg),
            )
            for p in repository.plans_of(session, mine.id)
        ],
        coefficients=[
            CoefficientOut(
                mine=mine.code,
                percent=Decimal(c.hundredths) / 100,
                effective_from=c.effective_from,
                effective_to=c.effective_to,
            )
            for c in repository.coefficients_of(session, mine.id)
        ],
        manual=[
            _manual_out(entry, mine.code, points.get(entry.point_id, "?"))
            for entry in repository.manual_entries(session, mine.id)
        ],
    )
