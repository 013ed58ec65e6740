"""All SQL of production figures: the hourly and daily rollups and their sums.

Raw coal is computed at read time: each day's gross is multiplied by
(10000 − k) for the coefficient span in force on that day, in integer raw
units (1/10,000 kg). So a coefficient approved for past dates changes the
figures of those dates at once, with nothing to recompute.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coalwatch.domain.coefficients import FULL_HUNDREDTHS
from coalwatch.storage.models import (
    Capacity,
    CapacityReduction,
    CoefficientSpan,
    DailyProduction,
    HourlyProduction,
    Plan,
    Record,
)
from coalwatch.storage.session import core

#: (point_id, hour_start UTC) → (local_day, measured_kg, manual_kg)
HourDeltas = Mapping[tuple[int, datetime], tuple[date, int, int]]


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    core(session).execute(_upsert_statement(dialect, model.__table__, tuple(keys)), rows)


@functools.cache
def _upsert_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding to the sums; built once, run as executemany
    (a multi-row VALUES statement is compiled again for every batch)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={
            "measured_kg": table.c.measured_kg + statement.excluded.measured_kg,
            "manual_kg": table.c.manual_kg + statement.excluded.manual_kg,
        },
    )


#: PostgreSQL: both rollups in one statement (arrays of the rows, one round trip, no
#: executemany pipeline); the hourly rows in the data-modifying CTE, run to completion
_ADD_TO_ROLLUPS_PG = text(
    """
WITH hourly AS (
    INSERT INTO hourly_production
        (mine_id, point_id, hour_start, local_day, measured_kg, manual_kg)
    SELECT :mine_id, u.point_id, u.hour_start, u.local_day, u.measured_kg, u.manual_kg
    FROM unnest(
        CAST(:h_point AS integer[]), CAST(:h_hour AS timestamptz[]), CAST(:h_day AS date[]),
        CAST(:h_measured AS bigint[]), CAST(:h_manual AS bigint[])
    ) AS u(point_id, hour_start, local_day, measured_kg, manual_kg)
    ON CONFLICT (mine_id, point_id, hour_start) DO UPDATE SET
        measured_kg = hourly_production.measured_kg + excluded.measured_kg,
        manual_kg = hourly_production.manual_kg + excluded.manual_kg
    RETURNING 1
)
INSERT INTO daily_production (mine_id, point_id, local_day, measured_kg, manual_kg)
SELECT :mine_id, u.point_id, u.local_day, u.measured_kg, u.manual_kg
FROM unnest(
    CAST(:d_point AS integer[]), CAST(:d_day AS date[]),
    CAST(:d_measured AS bigint[]), CAST(:d_manual AS bigint[])
) AS u(point_id, local_day, measured_kg, manual_kg)
ON CONFLICT (mine_id, point_id, local_day) DO UPDATE SET
    measured_kg = daily_production.measured_kg + excluded.measured_kg,
    manual_kg = daily_production.manual_kg + excluded.manual_kg
"""
)


def add_to_rollups(session: Session, mine_id: int, deltas: HourDeltas) -> None:
    """Add production to the hourly and daily rollups (in the caller's transaction)."""
    hourly: list[dict[str, Any]] = []
    daily: dict[tuple[int, date], list[int]] = {}
    for (point_id, hour_start), (local_day, measured, manual) in sorted(deltas.items()):
        if measured == 0 and manual == 0:
            continue
        hourly.append(
            {
                "mine_id": mine_id,
                "point_id": point_id,
                "hour_start": hour_start,
                "local_day": local_day,
                "measured_kg": measured,
                "manual_kg": manual,
            }
        )
        sums = daily.setdefault((point_id, local_day), [0, 0])
        sums[0] += measured
        sums[1] += manual
    if not hourly:
        return
    connection = core(session)
    if connection.dialect.name == "postgresql":
        days = sorted(daily.items())
        connection.execute(
            _ADD_TO_ROLLUPS_PG,
            {
                "mine_id": mine_id,
                "h_point": [row["point_id"] for row in hourly],
                "h_hour": [row["hour_start"] for row in hourly],
                "h_day": [row["local_day"] for row in hourly],
                "h_measured": [row["measured_kg"] for row in hourly],
                "h_manual": [row["manual_kg"] for row in hourly],
                "d_point": [p for (p, _), _ in days],
                "d_day": [d for (_, d), _ in days],
                "d_measured": [m for _, (m, _) in days],
                "d_manual": [n for _, (_, n) in days],
            },
        )
        return
    _upsert(session, HourlyProduction, hourly, ("mine_id", "point_id", "hour_start"))
    _upsert(
        session,
        DailyProduction,
        [
            {"mine_id": mine_id, "point_id": p, "local_day": d, "measured_kg": m, "manual_kg": n}
            for (p, d), (m, n) in sorted(daily.items())
        ],
        ("mine_id", "point_id", "local_day"),
    )


def mine_hour_kg(
    session: Session, mine_id: int, hours: Iterable[datetime]
) -> dict[datetime, tuple[int, int]]:
    """A mine's stored (measured kg, manual kg) of each of these hours (UTC starts) that
    has any: what the hourly limit (domain/limits.py) is checked against."""
    wanted = sorted(set(hours))
    if not wanted:
        return {}
    rows = core(session).execute(_MINE_HOUR_KG, {"mine_id": mine_id, "hours": wanted})
    return {hour: (int(measured), int(manual)) for hour, measured, manual in rows}


#: read for every batch: built once
_MINE_HOUR_KG = (
    select(
        HourlyProduction.hour_start,
        func.sum(HourlyProduction.measured_kg),
        func.sum(HourlyProduction.manual_kg),
    )
    .where(
        HourlyProduction.mine_id == bindparam("mine_id"),
        HourlyProduction.hour_start.in_(bindparam("hours", expanding=True)),
    )
    .group_by(HourlyProduction.hour_start)
)


def _raw_units(measured: Any, manual: Any) -> ColumnElement[Any]:
    factor = FULL_HUNDREDTHS - func.coalesce(CoefficientSpan.hundredths, 0)
    return func.sum((measured + manual) * factor)


def _span_join(model: Any) -> ColumnElement[bool]:
    return and_(
        CoefficientSpan.mine_id == model.mine_id,
        CoefficientSpan.day_from <= model.local_day,
        CoefficientSpan.day_to >= model.local_day,
    )


def _sums(model: Any, *group: Any) -> Select[Any]:
    return (
        select(
            *group,
            func.sum(model.measured_kg),
            func.sum(model.manual_kg),
            _raw_units(model.measured_kg, model.manual_kg),
        )
        .select_from(model)
        .outerjoin(CoefficientSpan, _span_join(model))
        .group_by(*group)
    )


Sums = tuple[int, int, int]  # measured kg, manual kg, raw units

#: from this many mines on, their ids are written into the SQL rather than bound
LITERAL_IDS = 20


def _in(column: Any, mine_ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN (ids)``. A province's 1,000 ids as 1,000 bound parameters make
    a query text psycopg parses again on every execution (~8 ms each)."""
    ids = list(mine_ids)
    if len(ids) < LITERAL_IDS:
        return column.in_(ids)  # type: ignore[no-any-return]
    return column.in_(  # type: ignore[no-any-return]
        bindparam("mine_ids", ids, expanding=True, literal_execute=True)
    )


def _rows(session: Session, query: Select[Any]) -> Iterable[tuple[Any, ...]]:
    return session.execute(query)


def hourly_sums(
    session: Session,
    mine_ids: Sequence[int],
    start: datetime,
    end: datetime,
    point_id: int | None = None,
) -> dict[tuple[int, datetime], Sums]:
    """Per mine and hour start (UTC) in [start, end)."""
    query = _sums(HourlyProduction, HourlyProduction.mine_id, HourlyProduction.hour_start).where(
        _in(HourlyProduction.mine_id, mine_ids),
        HourlyProduction.hour_start >= start,
        HourlyProduction.hour_start < end,
    )
    if point_id is not None:
        query = query.where(HourlyProduction.point_id == point_id)
    return {
        (mine_id, hour): (int(measured), int(manual), int(raw))
        for mine_id, hour, measured, manual, raw in _rows(session, query)
    }


def range_sums(
    session: Session,
    mine_ids: Sequence[int],
    first_day: date,
    last_day: date,
    point_id: int | None = None,
) -> dict[int, Sums]:
    """Per mine over the local days [first_day, last_day]."""
    query = _sums(DailyProduction, DailyProduction.mine_id).where(
        _in(DailyProduction.mine_id, mine_ids),
        DailyProduction.local_day >= first_day,
        DailyProduction.local_day <= last_day,
    )
    if point_id is not None:
        query = query.where(DailyProduction.point_id == point_id)
    return {
        mine_id: (int(measured), int(manual), int(raw))
        for mine_id, measured, manual, raw in _rows(session, query)
    }


@dataclass
class MineTotals:
    """Raw units (1/10,000 kg of raw coal) of one mine, as ``mine_totals`` read them."""

    hours: dict[datetime, int] = field(default_factory=dict)
    days: dict[date, int] = field(default_factory=dict)
    ranges: list[int] = field(default_factory=list)


def mine_totals(
    session: Session,
    mine_id: int,
    hours: tuple[datetime, datetime] | None,
    days: tuple[date, date] | None,
    ranges: Sequence[tuple[date, date]],
) -> MineTotals:
    """One mine's raw units per hour in [start, end), per local day in [first, last], and
    over each range of local days [first, last] (0 where nothing), in one query: a UNION
    ALL of the statements ``hourly_sums``, ``daily_sums`` and ``range_sums`` run apart."""
    totals = MineTotals(ranges=[0] * len(ranges))
    if hours is None and days is None and not ranges:
        return totals
    params: dict[str, Any] = {"mine_id": mine_id}
    if hours is not None:
        params.update(hour_from=hours[0], hour_to=hours[1])
    if days is not None:
        params.update(day_first=days[0], day_last=days[1])
    for index, (first, last) in enumerate(ranges):
        params.update({f"first_{index}": first, f"last_{index}": last})
    statement = _mine_totals_statement(hours is not None, days is not None, len(ranges))
    for branch, hour, day, raw in core(session).execute(statement, params):
        if branch == -2:
            totals.hours[hour] = int(raw)
        elif branch == -1:
            totals.days[day] = int(raw)
        else:
            totals.ranges[branch] = int(raw or 0)
    return totals


@functools.cache
def _mine_totals_statement(hours: bool, days: bool, ranges: int) -> Any:
    """``mine_totals``' statement for its shape, built once (building it is most of the
    cost of a small query); the values are bound at execution."""
    mine_id: BindParameter[int] = bindparam("mine_id")
    branches: list[Select[Any]] = []
    if hours:
        branches.append(
            select(
                literal_column("-2").label("branch"),
                HourlyProduction.hour_start.label("hour"),
                cast(null(), DailyProduction.local_day.type).label("day"),
                _raw_units(HourlyProduction.measured_kg, HourlyProduction.manual_kg).label("raw"),
            )
            .select_from(HourlyProduction)
            .outerjoin(CoefficientSpan, _span_join(HourlyProduction))
            .where(
                HourlyProduction.mine_id == mine_id,
                HourlyProduction.hour_start >= bindparam("hour_from"),
                HourlyProduction.hour_start < bindparam("hour_to"),
            )
            .group_by(HourlyProduction.hour_start)
        )
    day_groups: list[tuple[int, str, str]] = []  # (branch, first, last): -1 is per day
    if days:
        day_groups.append((-1, "day_first", "day_last"))
    day_groups.extend((index, f"first_{index}", f"last_{index}") for index in range(ranges))
    for branch, first, last in day_groups:
        per_day = branch == -1
        query = (
            select(
                literal_column(str(branch)).label("branch"),
                cast(null(), HourlyProduction.hour_start.type).label("hour"),
                (
                    DailyProduction.local_day
                    if per_day
                    else cast(null(), DailyProduction.local_day.type)
                ).label("day"),
                _raw_units(DailyProduction.measured_kg, DailyProduction.manual_kg).label("raw"),
            )
            .select_from(DailyProduction)
            .outerjoin(CoefficientSpan, _span_join(DailyProduction))
            .where(
                DailyProduction.mine_id == mine_id,
                DailyProduction.local_day >= bindparam(first),
                DailyProduction.local_day <= bindparam(last),
            )
        )
        branches.append(query.group_by(DailyProduction.local_day) if per_day else query)
    return branches[0] if len(branches) == 1 else union_all(*branches)


def partial_hour_sums(session: Session, mine_id: int, hour_start: datetime, until: datetime) -> int:
    """Measured kg of a mine from the start of an hour up to an instant, from the records."""
    total = session.scalar(
        select(func.coalesce(func.sum(Record.increment_kg), 0)).where(
            Record.mine_id == mine_id,
            Record.ts >= hour_start,
            Record.ts <= until,
            Record.increment_kg.is_not(None),
        )
    )
    return int(total or 0)


def manual_in_hour(session: Session, mine_id: int, hour_start: datetime) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(HourlyProduction.manual_kg), 0)).where(
            HourlyProduction.mine_id == mine_id, HourlyProduction.hour_start == hour_start
        )
    )
    return int(total or 0)


def coefficient_on(session: Session, mine_id: int, day: date) -> int:
    value = session.scalar(
        select(CoefficientSpan.hundredths).where(
            CoefficientSpan.mine_id == mine_id,
            CoefficientSpan.day_from <= day,
            CoefficientSpan.day_to >= day,
        )
    )
    return int(value or 0)


class CapacityRow(NamedTuple):
    mine_id: int
    annual_kg: int
    effective_from: date


class ReductionRow(NamedTuple):
    mine_id: int
    amount_kg_num: int
    amount_kg_den: int
    effective_from: date


class PlanRow(NamedTuple):
    mine_id: int
    month: date
    month_kg: int
    day_kg: int | None
    hour_kg: int | None


def yardstick_rows(
    session: Session, mine_ids: Sequence[int], first: date, last: date
) -> tuple[list[CapacityRow], list[ReductionRow], list[PlanRow]]:
    """The mines' capacity approvals and reductions (each in order of entry) and their
    plans for the months first..last, in one query (a UNION ALL of the three): rows,
    not entities (building 1,000 ORM objects costs more than the query)."""
    statement = _yardstick_statement(len(mine_ids) >= LITERAL_IDS)
    rows = session.execute(statement, {"mine_ids": list(mine_ids), "first": first, "last": last})
    capacities: list[tuple[int, CapacityRow]] = []
    reductions: list[tuple[int, ReductionRow]] = []
    plans: list[PlanRow] = []
    for kind, mine_id, row_id, day, a, b, c in rows:
        if kind == 0:
            capacities.append((row_id, CapacityRow(mine_id, a, day)))
        elif kind == 1:
            reductions.append((row_id, ReductionRow(mine_id, a, b, day)))
        else:
            plans.append(PlanRow(mine_id, day, a, b, c))
    capacities.sort(key=lambda r: r[0])
    reductions.sort(key=lambda r: r[0])
    return [r for _, r in capacities], [r for _, r in reductions], plans


@functools.cache
def _yardstick_statement(literal_ids: bool) -> Any:
    """``yardstick_rows``' statement, built once (every ingested batch reads a mine's):
    ``mine_ids`` expands at execution, written into the SQL from ``LITERAL_IDS`` ids
    on, as ``_in`` does."""

    def among(column: Any) -> ColumnElement[bool]:
        ids: BindParameter[Any] = bindparam("mine_ids", expanding=True, literal_execute=literal_ids)
        return column.in_(ids)  # type: ignore[no-any-return]

    def none() -> Any:
        return cast(null(), BigInteger)

    columns = ("kind", "mine_id", "row_id", "day", "a", "b", "c")

    def labelled(*values: Any) -> Select[Any]:
        return select(*(v.label(n) for v, n in zip(values, columns, strict=True)))

    return union_all(
        labelled(
            literal_column("0"),
            Capacity.mine_id,
            Capacity.id,
            Capacity.effective_from,
            Capacity.annual_kg,
            none(),
            none(),
        ).where(among(Capacity.mine_id)),
        labelled(
            literal_column("1"),
            CapacityReduction.mine_id,
            CapacityReduction.id,
            CapacityReduction.effective_from,
            CapacityReduction.amount_kg_num,
            CapacityReduction.amount_kg_den,
            none(),
        ).where(among(CapacityReduction.mine_id), CapacityReduction.status != "waived"),
        labelled(
            literal_column("2"),
            Plan.mine_id,
            Plan.id,
            Plan.month,
            Plan.month_kg,
            Plan.day_kg,
            Plan.hour_kg,
        ).where(
            among(Plan.mine_id), Plan.month >= bindparam("first"), Plan.month <= bindparam("last")
        ),
    )


def daily_sums(
    session: Session,
    mine_ids: Sequence[int],
    first_day: date,
    last_day: date,
    point_id: int | None = None,
) -> dict[tuple[int, date], Sums]:
    """Per mine and local day in [first_day, last_day]."""
    query = _sums(DailyProduction, DailyProduction.mine_id, DailyProduction.local_day).where(
        _in(DailyProduction.mine_id, mine_ids),
        DailyProduction.local_day >= first_day,
        DailyProduction.local_day <= last_day,
    )
    if point_id is not None:
        query = query.where(DailyProduction.point_id == point_id)
    return {
        (mine_id, day): (int(measured), int(manual), int(raw))
        for mine_id, day, measured, manual, raw in _rows(session, query)
    }
