"""Production figures 产量: current hour / day / month / year, and per period.

Everything is summed as integers (gross kg, raw units of 1/10,000 kg) and
rounded only when shown: a total is the rounding of the exact sum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.acceptance import flags
from coalwatch.auth.principal import Principal
from coalwatch.domain import capacity as rules
from coalwatch.domain.acceptance import ACCEPTED
from coalwatch.domain.coefficients import raw_units
from coalwatch.domain.periods import (
    Period,
    next_period_start,
    period_days,
    period_start,
    period_starts,
)
from coalwatch.domain.units import (
    RAW_UNITS_PER_T,
    fraction_to_decimal,
    kg_to_tonnes,
    quotient_to_decimal,
    round_tonnes,
)
from coalwatch.errors import Invalid, NotFound
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs.service import visible_org
from coalwatch.production import repository
from coalwatch.production.repository import Sums
from coalwatch.production.schemas import (
    Figure,
    MineProduction,
    OrgProduction,
    PeriodFigure,
    Production,
    Summary,
)
from coalwatch.storage import facts
from coalwatch.storage.models import Mine

#: periods one request may ask for (about 6 weeks of hours)
MAX_PERIODS = 1000
RATIO_PLACES = 4
ZERO: Sums = (0, 0, 0)


def _add(a: Sums, b: Sums) -> Sums:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


@dataclass(frozen=True)
class _Against:
    """What a period's production is compared with: the period's capacity (after
    reductions), the approved one (before them) and the plan; with how a figure shows
    them (``shown``) and 产能比's denominator (``ratio_of``), worked out once."""

    capacity: Fraction | None
    approved: Fraction | None
    plan: Decimal | None
    #: 产能比's denominator where it is not the plan else the capacity: a sum of periods
    #: or mines divides by the sum of each one's plan, else its capacity
    base: Fraction | None = None
    #: the three as a figure shows them (a province's table shows thousands)
    shown: dict[str, Any] = field(init=False, repr=False, compare=False)
    #: 产能比's denominator as (numerator, denominator): the plan, else the capacity;
    #: (0, 1) for neither
    ratio_of: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        capacity, approved, plan = self.capacity, self.approved, self.plan
        shown = dict(
            capacity_t=None if capacity is None else round_tonnes(capacity),
            approved_capacity_t=None if approved is None else round_tonnes(approved),
            plan_t=None if plan is None else round_tonnes(plan),
        )
        if self.base is not None:
            ratio_of = self.base.numerator, self.base.denominator
        elif plan:
            ratio_of = plan.as_integer_ratio()
        elif capacity:
            ratio_of = capacity.numerator, capacity.denominator
        else:
            ratio_of = 0, 1
        object.__setattr__(self, "shown", shown)
        object.__setattr__(self, "ratio_of", ratio_of)


@dataclass(frozen=True)
class Yardstick:
    """What a mine's production is compared with: capacity, reductions, plans."""

    changes: tuple[rules.CapacityChange, ...]
    reductions: tuple[rules.Reduction, ...]
    plans: dict[date, rules.Plan]
    #: ``annual``, ``approved`` and ``against`` of each day asked for (a mine's yardstick
    #: serves many batches and tables)
    _annual: dict[date, Fraction | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _approved: dict[date, Fraction | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _against: dict[tuple[Period, date], _Against] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def annual(self, day: date) -> Fraction | None:
        if day not in self._annual:
            self._annual[day] = rules.less_reductions(self.approved(day), self.reductions, day)
        return self._annual[day]

    def approved(self, day: date) -> Fraction | None:
        if day not in self._approved:
            self._approved[day] = rules.approved_annual(self.changes, day)
        return self._approved[day]

    def plan(self, period: Period, day: date) -> Decimal | None:
        plan = self.plans.get(day.replace(day=1))
        return plan.for_period(period) if plan else None

    def against(self, period: Period, day: date) -> _Against:
        """What the mine's production of ``period`` is compared with, on ``day``."""
        found = self._against.get((period, day))
        if found is None:
            annual, approved = self.annual(day), self.approved(day)
            capacity = None if annual is None else rules.period_capacity(annual, period)
            if approved is not annual:  # a reduction: the approved figure apart
                approved = None if approved is None else rules.period_capacity(approved, period)
            else:
                approved = capacity
            found = _Against(capacity, approved, self.plan(period, day))
            self._against[(period, day)] = found
        return found


#: what the yardsticks are read from
YARDSTICK_TABLES = frozenset({"capacities", "capacity_reductions", "plans"})


def yardsticks(
    session: Session, mine_ids: Sequence[int], first: date, last: date
) -> Mapping[int, Yardstick]:
    """The mines' yardsticks with their plans for the months of first..last, kept per
    process until a capacity, reduction or plan changes (``storage.facts``): a batch
    reads its mine's, a dashboard or a province's table those of every mine, again and
    again. Shared between requests and threads: read, never changed."""
    ids = tuple(mine_ids)
    return facts.cached(
        session,
        ("yardsticks", ids, first, last),
        YARDSTICK_TABLES,
        lambda: _read_yardsticks(session, ids, first, last),
    )


def batch_yardstick(session: Session, mine_id: int, first: date, last: date) -> Yardstick:
    """The mine's yardstick with its plans for the months of first..last, as ``yardsticks``
    reads it, for the batches of every mine (the years around a batch's days): every
    mine's is read at once, on the first batch of any, and kept as ``yardsticks`` keeps
    them."""
    stick: Yardstick | None = facts.cached_among(
        session,
        ("batch yardsticks", first, last),
        mine_id,
        YARDSTICK_TABLES | {"mines"},
        lambda: _read_yardsticks(session, list(session.scalars(select(Mine.id))), first, last),
        None,
    )
    if stick is None:  # no such mine
        raise KeyError(mine_id)
    return stick


def _read_yardsticks(
    session: Session, mine_ids: Sequence[int], first: date, last: date
) -> dict[int, Yardstick]:
    capacities, reductions, plan_rows = repository.yardstick_rows(
        session, mine_ids, first.replace(day=1), last
    )
    changes: dict[int, list[rules.CapacityChange]] = {m: [] for m in mine_ids}
    for c in capacities:
        changes[c.mine_id].append(rules.CapacityChange(kg_to_tonnes(c.annual_kg), c.effective_from))
    cuts: dict[int, list[rules.Reduction]] = {m: [] for m in mine_ids}
    for r in reductions:
        amount = Fraction(r.amount_kg_num, r.amount_kg_den * 1000)
        cuts[r.mine_id].append(rules.Reduction(amount, r.effective_from))
    plans: dict[int, dict[date, rules.Plan]] = {m: {} for m in mine_ids}
    for p in plan_rows:
        plans[p.mine_id][p.month] = rules.Plan(
            kg_to_tonnes(p.month_kg),
            None if p.day_kg is None else kg_to_tonnes(p.day_kg),
            None if p.hour_kg is None else kg_to_tonnes(p.hour_kg),
        )
    return {m: Yardstick(tuple(changes[m]), tuple(cuts[m]), plans[m]) for m in mine_ids}


@dataclass(frozen=True)
class _Measure:
    """A period's sums and what they are compared with, and the figure's fields."""

    sums: Sums
    against: _Against
    #: the figure's fields: ``rules.capacity_ratio`` and ``rules.overproduction`` of
    #: raw / RAW_UNITS_PER_T tonnes, computed on integer numerators and denominators (a
    #: province's table rounds thousands of them; the same exact values)
    fields: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        measured, manual, raw = self.sums
        capacity = self.against.capacity
        ratio = excess = None
        by_n, by_d = self.against.ratio_of
        if by_n:
            ratio = quotient_to_decimal(raw * by_d, RAW_UNITS_PER_T * by_n, RATIO_PLACES)
        if capacity is not None:
            over_n = raw * capacity.denominator - capacity.numerator * RAW_UNITS_PER_T
            if over_n > 0:
                excess = quotient_to_decimal(over_n, RAW_UNITS_PER_T * capacity.denominator, 3)
        fields = dict(
            self.against.shown,
            gross_t=kg_to_tonnes(measured + manual),
            raw_t=quotient_to_decimal(raw, RAW_UNITS_PER_T, 3),
            manual_t=kg_to_tonnes(manual),
            ratio=ratio,
            over=excess is not None,
            excess_t=excess,
        )
        object.__setattr__(self, "fields", fields)

    def figure(self) -> Figure:
        return Figure(**self.fields)


def _measure(sums: Sums, yardstick: Yardstick, period: Period, day: date) -> _Measure:
    return _Measure(sums, yardstick.against(period, day))


def summary(
    session: Session, principal: Principal, code: str, at: datetime | None, now: datetime
) -> Summary:
    """当时/当天/当月/当年产量: from the start of the hour, day, month, year up to ``at``."""
    mine, _ = visible_mine(session, principal, code)
    tz = ZoneInfo(mine.timezone)
    at = (at or now).astimezone(tz)
    hour = period_start(at, Period.HOUR, tz)
    today = at.date()
    month_first = today.replace(day=1)
    year_first = date(today.year, 1, 1)

    measured = repository.partial_hour_sums(session, mine.id, hour.astimezone(UTC), at)
    manual = repository.manual_in_hour(session, mine.id, hour.astimezone(UTC))
    hundredths = repository.coefficient_on(session, mine.id, today)
    hour_sums: Sums = (measured, manual, raw_units(measured + manual, hundredths))
    earlier_hours = repository.hourly_sums(
        session, [mine.id], period_start(at, Period.DAY, tz).astimezone(UTC), hour.astimezone(UTC)
    )
    day_sums = hour_sums
    for sums in earlier_hours.values():
        day_sums = _add(day_sums, sums)
    yesterday = today - timedelta(days=1)
    month_sums = _add(
        day_sums,
        repository.range_sums(session, [mine.id], month_first, yesterday).get(mine.id, ZERO),
    )
    year_sums = _add(
        month_sums,
        repository.range_sums(session, [mine.id], year_first, month_first - timedelta(days=1)).get(
            mine.id, ZERO
        ),
    )
    yardstick = yardsticks(session, [mine.id], today, today)[mine.id]
    state = flags.states_now(session, [mine.id], at)[mine.id]
    return Summary(
        mine=mine.code,
        at=at,
        acceptance=state,
        accepted=state == ACCEPTED,
        hour=_measure(hour_sums, yardstick, Period.HOUR, today).figure(),
        day=_measure(day_sums, yardstick, Period.DAY, today).figure(),
        month=_measure(month_sums, yardstick, Period.MONTH, today).figure(),
        year=_measure(year_sums, yardstick, Period.YEAR, today).figure(),
    )


def _buckets(start: datetime, end: datetime, period: Period, tz: ZoneInfo) -> list[datetime]:
    if end <= start:
        raise Invalid("'to' must be after 'from'")
    buckets = []
    for bucket in period_starts(start, end, period, tz):
        buckets.append(bucket)
        if len(buckets) > MAX_PERIODS:
            raise Invalid(
                f"more than {MAX_PERIODS} {period.value} periods asked for; narrow the range"
            )
    return buckets


class _HasId(Protocol):
    """A mine entity, or a row with its id."""

    @property
    def id(self) -> int: ...


def _table(
    session: Session,
    mines: Sequence[_HasId],
    period: Period,
    buckets: Sequence[datetime],
    tz: ZoneInfo,
    today: date,
    point_id: int | None = None,
) -> dict[int, list[_Measure]]:
    """Per mine, the measure of every bucket."""
    ids = [m.id for m in mines]
    last = next_period_start(buckets[-1], period, tz)
    first_day, last_day = buckets[0].date(), (last - timedelta(days=1)).date()
    sticks = yardsticks(session, ids, first_day, last_day)
    table: dict[int, list[_Measure]] = {m: [] for m in ids}
    if period is Period.HOUR:
        sums = repository.hourly_sums(
            session, ids, buckets[0].astimezone(UTC), last.astimezone(UTC), point_id
        )
        for bucket in buckets:
            key = bucket.astimezone(UTC)
            for m in ids:
                table[m].append(
                    _measure(sums.get((m, key), ZERO), sticks[m], period, bucket.date())
                )
        return table
    if period is Period.DAY:
        days = repository.daily_sums(session, ids, first_day, last_day, point_id)
        for bucket in buckets:
            for m in ids:
                table[m].append(
                    _measure(days.get((m, bucket.date()), ZERO), sticks[m], period, bucket.date())
                )
        return table
    # a mine's whole months and years are its running totals; a point's are summed
    kept = (
        repository.period_sums(
            session, ids, _TOTAL_PERIODS[period], [bucket.date() for bucket in buckets]
        )
        if point_id is None
        else None
    )
    for bucket in buckets:
        first, last_of = period_days(bucket, period, tz)
        if kept is None:
            sums_by_mine = repository.range_sums(session, ids, first, last_of, point_id)
        else:
            sums_by_mine = {m: kept[(m, first)] for m in ids if (m, first) in kept}
        capacity_day = min(last_of, max(today, first))
        for m in ids:
            table[m].append(_measure(sums_by_mine.get(m, ZERO), sticks[m], period, capacity_day))
    return table


_TOTAL_PERIODS = {Period.MONTH: repository.MONTH, Period.YEAR: repository.YEAR}


def _sum_measures(measures: Sequence[_Measure]) -> _Measure:
    """The sum of many measures: exact sums, the plan rounded once at the end
    (folding ``+`` over 1,000 mines rounds the plan 1,000 times). Its plan is the sum of
    the plans there are; 产能比 divides by the sum of each one's plan, else its capacity."""
    if len(measures) == 1:
        return measures[0]  # and its figure, computed once
    # none: zero production, and neither capacity nor plan to compare it with
    measured = manual = raw = 0
    capacities: list[Fraction] = []
    approvals: list[Fraction] = []
    plans: list[Decimal] = []
    bases: list[Fraction | Decimal] = []
    for m in measures:
        measured += m.sums[0]
        manual += m.sums[1]
        raw += m.sums[2]
        against = m.against
        if against.capacity is not None:
            capacities.append(against.capacity)
        if against.approved is not None:
            approvals.append(against.approved)
        if against.plan is not None:
            plans.append(against.plan)
        part = against.plan if against.plan else against.capacity
        if part is not None:
            bases.append(part)
    return _Measure(
        (measured, manual, raw),
        _Against(
            _exact_sum(capacities) if capacities else None,
            _exact_sum(approvals) if approvals else None,
            fraction_to_decimal(_exact_sum(plans), 7) if plans else None,
            _exact_sum(bases) if plans else None,
        ),
    )


def _exact_sum(values: Sequence[Fraction | Decimal]) -> Fraction:
    """The exact sum of many fractions: numerators added per denominator (a province's
    capacities have a few denominators), then one fraction per denominator."""
    by_denominator: dict[int, int] = {}
    for value in values:
        numerator, denominator = value.as_integer_ratio()
        by_denominator[denominator] = by_denominator.get(denominator, 0) + numerator
    return sum(
        (Fraction(n, d) for d, n in by_denominator.items()),
        Fraction(0),
    )


def _items(buckets: Sequence[datetime], measures: Sequence[_Measure]) -> list[PeriodFigure]:
    return [
        PeriodFigure(start=bucket, **measure.fields)
        for bucket, measure in zip(buckets, measures, strict=True)
    ]


def mine_production(
    session: Session,
    principal: Principal,
    code: str,
    period: Period,
    start: datetime,
    end: datetime,
    now: datetime,
    point: str | None = None,
) -> Production:
    """A mine's production per period; with ``point``, that metering point's alone."""
    mine, _ = visible_mine(session, principal, code)
    point_id = None
    if point is not None:
        found = mine_point(session, mine, point, missing=NotFound)
        point_id = found.id
    tz = ZoneInfo(mine.timezone)
    buckets = _buckets(start, end, period, tz)
    table = _table(session, [mine], period, buckets, tz, now.astimezone(tz).date(), point_id)
    return Production(
        period=period, items=_items(buckets, table[mine.id]), total=_total(table[mine.id])
    )


def _total(measures: Sequence[_Measure]) -> Figure:
    return _sum_measures(measures).figure()


def org_production(
    session: Session,
    principal: Principal,
    code: str,
    period: Period,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: ZoneInfo,
) -> OrgProduction:
    """The subtree's production per period, and one row per mine.

    Periods are those of the deployment's time zone; each mine's days are its own.
    """
    org = visible_org(session, principal, code)
    mines = org_repository.mine_rows_under(session, org.path)
    buckets = _buckets(start, end, period, tz)
    table = _table(session, mines, period, buckets, tz, now.astimezone(tz).date()) if mines else {}
    totals = [_sum_measures([table[m.id][index] for m in mines]) for index in range(len(buckets))]
    return OrgProduction(
        org=org.code,
        period=period,
        items=_items(buckets, totals),
        total=_total(totals),
        mines=[
            MineProduction(
                mine=m.code,
                name=m.name,
                items=_items(buckets, table[m.id]),
                total=_total(table[m.id]),
            )
            for m in mines
        ],
    )


PERIODS = (Period.HOUR, Period.DAY, Period.MONTH, Period.YEAR)


@dataclass(frozen=True)
class Current:
    """当时/当天/当月/当年产量 of many mines at once, and their sum."""

    mines: dict[int, Summary]
    total: dict[Period, Figure]


def current_figures(session: Session, mines: Sequence[Mine], now: datetime) -> Current:
    """The current hour, day, month and year of every mine, from the rollups only.

    A few queries for any number of mines (the dashboards of a whole region): the
    current hour's rollup holds everything received so far, so at ``now`` this
    equals :func:`summary`.
    """
    by_zone: dict[str, list[Mine]] = {}
    for mine in mines:
        by_zone.setdefault(mine.timezone, []).append(mine)
    out: dict[int, Summary] = {}
    parts: dict[Period, list[_Measure]] = {period: [] for period in PERIODS}
    for zone, group in by_zone.items():
        tz = ZoneInfo(zone)
        at = now.astimezone(tz)
        ids = [m.id for m in group]
        today = at.date()
        hour = period_start(at, Period.HOUR, tz).astimezone(UTC)
        hours = repository.hourly_sums(session, ids, hour, hour + timedelta(hours=1))
        days = repository.range_sums(session, ids, today, today)
        months = repository.range_sums(session, ids, today.replace(day=1), today)
        years = repository.range_sums(session, ids, date(today.year, 1, 1), today)
        sticks = yardsticks(session, ids, today, today)
        for mine in group:
            measures = {
                Period.HOUR: _measure(
                    hours.get((mine.id, hour), ZERO), sticks[mine.id], Period.HOUR, today
                ),
                Period.DAY: _measure(days.get(mine.id, ZERO), sticks[mine.id], Period.DAY, today),
                Period.MONTH: _measure(
                    months.get(mine.id, ZERO), sticks[mine.id], Period.MONTH, today
                ),
                Period.YEAR: _measure(
                    years.get(mine.id, ZERO), sticks[mine.id], Period.YEAR, today
                ),
            }
            for period, measure in measures.items():
                parts[period].append(measure)
            out[mine.id] = Summary(
                mine=mine.code,
                at=at,
                hour=measures[Period.HOUR].figure(),
                day=measures[Period.DAY].figure(),
                month=measures[Period.MONTH].figure(),
                year=measures[Period.YEAR].figure(),
            )
    return Current(
        out, {period: _sum_measures(measures).figure() for period, measures in parts.items()}
    )


def today_by_hour(
    session: Session, mines: Sequence[Mine], now: datetime, tz: ZoneInfo
) -> list[PeriodFigure]:
    """Today's hours (deployment time zone) summed over the mines, for the wall's chart."""
    start = period_start(now.astimezone(tz), Period.DAY, tz)
    end = next_period_start(start, Period.DAY, tz)
    if not mines:
        return []
    buckets = _buckets(start, end, Period.HOUR, tz)
    table = _table(session, mines, Period.HOUR, buckets, tz, now.astimezone(tz).date())
    totals = [_sum_measures([table[m.id][index] for m in mines]) for index in range(len(buckets))]
    return _items(buckets, totals)
