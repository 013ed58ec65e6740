"""All SQL of production figures: the hourly and daily rollups and their sums.

Raw coal is computed at read time: each day's gross is multiplied by
(10000 − k) for the coefficient span in force on that day, in integer raw
units (1/10,000 kg). So a coefficient approved for past dates changes the
figures of those dates at once, with nothing to recompute.

The one exception is the running totals of each mine's months and years
(``mine_period_totals``), which the overproduction rules read after every batch
instead of summing a year of days: ``add_to_rollups`` adds to them in the same
statement as to the rollups, with the coefficient in force each day, and returns
them; a change of the coefficients recomputes them (``recompute_totals``), and
``coalwatch verify`` proves them against the daily rollups (``totals_from_days``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Date,
    DateTime,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coalwatch.domain.coefficients import FULL_HUNDREDTHS
from coalwatch.storage import driver
from coalwatch.storage.base import UTCDateTime
from coalwatch.storage.driver import Hot, pg_array
from coalwatch.storage.models import (
    Capacity,
    CapacityReduction,
    CoefficientSpan,
    DailyProduction,
    HourlyProduction,
    MinePeriodTotal,
    Plan,
    Point,
    Record,
)
from coalwatch.storage.session import core

#: (point_id, hour_start UTC) → (local_day, measured_kg, manual_kg)
HourDeltas = Mapping[tuple[int, datetime], tuple[date, int, int]]
Sums = tuple[int, int, int]  # measured kg, manual kg, raw units
MONTH, YEAR = "month", "year"
#: a mine's running totals: (MONTH or YEAR, the period's first local day) → its sums
PeriodTotals = dict[tuple[str, date], Sums]


@dataclass
class MineTotals:
    """Raw units (1/10,000 kg of raw coal) of one mine, as ``mine_totals`` read them."""

    hours: dict[datetime, int] = field(default_factory=dict)
    days: dict[date, int] = field(default_factory=dict)


@dataclass
class Added:
    """What an addition to the rollups changed, as it now stands (``add_to_rollups``)."""

    #: the running totals of the months and years added to
    periods: PeriodTotals = field(default_factory=dict)
    #: the mine's raw units of every hour from the first added to to the last, and of
    #: every day from the one before the first added to to the one after the last
    #: (``mine_totals`` of ``added_spans``): what the overproduction rules compare; None
    #: where nothing was added
    mine: MineTotals | None = None


def added_spans(deltas: HourDeltas) -> tuple[tuple[datetime, datetime], tuple[date, date]]:
    """The hours [first, last + 1 h) and the days [first − 1, last + 1] an addition of
    these deltas is checked over."""
    hours = [hour for _, hour in deltas]
    days = [day for day, _, _ in deltas.values()]
    one = timedelta(days=1)
    return (min(hours), max(hours) + timedelta(hours=1)), (min(days) - one, max(days) + one)


def periods_of(day: date) -> tuple[tuple[str, date], tuple[str, date]]:
    """The month and the year a local day is counted in, as keys of ``PeriodTotals``."""
    return (MONTH, day.replace(day=1)), (YEAR, date(day.year, 1, 1))


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


#: what the additions to the running totals return (typed: the result's description is
#: built once, not for every batch)
_TOTAL_COLUMNS = (
    column("period", String),
    column("start_day", Date),
    column("measured_kg", BigInteger),
    column("manual_kg", BigInteger),
    column("raw_units", BigInteger),
)

#: PostgreSQL: both rollups and the running totals in one statement (arrays of the rows,
#: one round trip, no executemany pipeline), in data-modifying CTEs run to completion;
#: it returns the totals as they now stand (their rows locked by the update: a concurrent
#: addition waits, and adds to what this one committed), and the mine's raw units of the
#: hours and days of ``added_spans`` as ``mine_totals`` would read them after it: what the
#: rollups held when the statement began (its snapshot; the caller holds the mine's
#: production, so no other addition to the mine commits in between) plus what it adds
_ADD_TO_ROLLUPS_PG = Hot(
    text(
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
, daily AS (
    INSERT INTO daily_production (mine_id, point_id, local_day, measured_kg, manual_kg)
    SELECT :mine_id, u.point_id, u.local_day, u.measured_kg, u.manual_kg
    FROM unnest(
        CAST(:d_point AS integer[]), CAST(:d_day AS date[]),
        CAST(:d_measured AS bigint[]), CAST(:d_manual AS bigint[])
    ) AS u(point_id, local_day, measured_kg, manual_kg)
    ON CONFLICT (mine_id, point_id, local_day) DO UPDATE SET
        measured_kg = daily_production.measured_kg + excluded.measured_kg,
        manual_kg = daily_production.manual_kg + excluded.manual_kg
    RETURNING 1
), totals AS (
    INSERT INTO mine_period_totals
        (mine_id, period, start_day, measured_kg, manual_kg, raw_units)
    SELECT :mine_id, p.period, CAST(date_trunc(p.period, CAST(u.local_day AS timestamp)) AS date),
        sum(u.measured_kg), sum(u.manual_kg),
        sum((u.measured_kg + u.manual_kg) * (10000 - coalesce(s.hundredths, 0)))
    FROM unnest(
        CAST(:d_day AS date[]), CAST(:d_measured AS bigint[]), CAST(:d_manual AS bigint[])
    ) AS u(local_day, measured_kg, manual_kg)
    CROSS JOIN (VALUES ('month'), ('year')) AS p(period)
    LEFT JOIN coefficient_spans s ON s.mine_id = :mine_id
        AND s.day_from <= u.local_day AND s.day_to >= u.local_day
    GROUP BY 2, 3
    ON CONFLICT (mine_id, period, start_day) DO UPDATE SET
        measured_kg = mine_period_totals.measured_kg + excluded.measured_kg,
        manual_kg = mine_period_totals.manual_kg + excluded.manual_kg,
        raw_units = mine_period_totals.raw_units + excluded.raw_units
    RETURNING period, start_day, measured_kg, manual_kg, raw_units
), hours AS (
    SELECT h.hour_start, sum((h.measured_kg + h.manual_kg) * (10000 - coalesce(s.hundredths, 0)))
        AS raw_units
    FROM (
        SELECT hour_start, local_day, measured_kg, manual_kg FROM hourly_production
        WHERE mine_id = :mine_id AND hour_start >= :hour_from AND hour_start < :hour_to
        UNION ALL
        SELECT * FROM unnest(
            CAST(:h_hour AS timestamptz[]), CAST(:h_day AS date[]),
            CAST(:h_measured AS bigint[]), CAST(:h_manual AS bigint[])
        )
    ) AS h(hour_start, local_day, measured_kg, manual_kg)
    LEFT JOIN coefficient_spans s ON s.mine_id = :mine_id
        AND s.day_from <= h.local_day AND s.day_to >= h.local_day
    GROUP BY h.hour_start
), days AS (
    SELECT d.local_day, sum((d.measured_kg + d.manual_kg) * (10000 - coalesce(s.hundredths, 0)))
        AS raw_units
    FROM (
        SELECT local_day, measured_kg, manual_kg FROM daily_production
        WHERE mine_id = :mine_id AND local_day >= :day_first AND local_day <= :day_last
        UNION ALL
        SELECT * FROM unnest(
            CAST(:d_day AS date[]), CAST(:d_measured AS bigint[]), CAST(:d_manual AS bigint[])
        )
    ) AS d(local_day, measured_kg, manual_kg)
    LEFT JOIN coefficient_spans s ON s.mine_id = :mine_id
        AND s.day_from <= d.local_day AND s.day_to >= d.local_day
    GROUP BY d.local_day
)
SELECT period, start_day, CAST(NULL AS timestamptz), measured_kg, manual_kg, raw_units
FROM totals
UNION ALL
SELECT 'hour', NULL, hour_start, 0, 0, raw_units FROM hours
UNION ALL
SELECT 'day', local_day, NULL, 0, 0, raw_units FROM days
"""
    ).columns(
        column("period", String),
        column("start_day", Date),
        column("hour", UTCDateTime),
        column("measured_kg", BigInteger),
        column("manual_kg", BigInteger),
        column("raw_units", BigInteger),
    )
)

#: SQLite: the running totals of the days' months and years (the rows as JSON, one
#: statement text whatever their number); the coefficient of each day joined as the
#: read-time sums join it
_ADD_TO_TOTALS_SQLITE = text(
    """
INSERT INTO mine_period_totals (mine_id, period, start_day, measured_kg, manual_kg, raw_units)
SELECT :mine_id, u.period, u.start_day, sum(u.measured_kg), sum(u.manual_kg),
    sum((u.measured_kg + u.manual_kg) * (10000 - coalesce(s.hundredths, 0)))
FROM (
    SELECT json_extract(value, '$[0]') AS period, json_extract(value, '$[1]') AS start_day,
        json_extract(value, '$[2]') AS local_day, json_extract(value, '$[3]') AS measured_kg,
        json_extract(value, '$[4]') AS manual_kg
    FROM json_each(:rows)
) AS u
LEFT JOIN coefficient_spans s ON s.mine_id = :mine_id
    AND s.day_from <= u.local_day AND s.day_to >= u.local_day
WHERE true
GROUP BY u.period, u.start_day
ON CONFLICT (mine_id, period, start_day) DO UPDATE SET
    measured_kg = mine_period_totals.measured_kg + excluded.measured_kg,
    manual_kg = mine_period_totals.manual_kg + excluded.manual_kg,
    raw_units = mine_period_totals.raw_units + excluded.raw_units
RETURNING period, start_day, measured_kg, manual_kg, raw_units
"""
).columns(*_TOTAL_COLUMNS)


def add_to_rollups(session: Session, mine_id: int, deltas: HourDeltas) -> Added:
    """Add production to the hourly and daily rollups and to the running totals of their
    months and years (in the caller's transaction); return those totals, and the mine's
    hours and days the addition is checked over, as they now stand.

    The caller holds the mine's production (``hold_mine``; ingest holds it through the
    mine's points it locks): a change of the coefficients then waits for the addition,
    or the addition for the change, and each day is counted at the coefficient in force.
    """
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
        return Added()
    (hour_from, hour_to), (day_first, day_last) = added_spans(deltas)
    connection = core(session)
    if connection.dialect.name == "postgresql":
        days = sorted(daily.items())
        periods: PeriodTotals = {}
        mine = MineTotals()
        for period, start, hour, measured, manual, raw in driver.rows(
            connection,
            _ADD_TO_ROLLUPS_PG,
            {
                "mine_id": mine_id,
                "hour_from": hour_from,
                "hour_to": hour_to,
                "day_first": day_first,
                "day_last": day_last,
                "h_point": pg_array(row["point_id"] for row in hourly),
                "h_hour": pg_array(row["hour_start"] for row in hourly),
                "h_day": pg_array(row["local_day"] for row in hourly),
                "h_measured": pg_array(row["measured_kg"] for row in hourly),
                "h_manual": pg_array(row["manual_kg"] for row in hourly),
                "d_point": pg_array(p for (p, _), _ in days),
                "d_day": pg_array(d for (_, d), _ in days),
                "d_measured": pg_array(m for _, (m, _) in days),
                "d_manual": pg_array(n for _, (_, n) in days),
            },
        ):
            if period == "hour":
                mine.hours[hour] = int(raw)
            elif period == "day":
                mine.days[_day(start)] = int(raw)
            else:
                periods[(str(period), _day(start))] = (int(measured), int(manual), int(raw))
        return Added(periods, mine)
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
    by_day: dict[date, list[int]] = {}
    for (_, day), (measured, manual) in daily.items():
        sums = by_day.setdefault(day, [0, 0])
        sums[0] += measured
        sums[1] += manual
    encoded = json.dumps(
        [
            [period, start.isoformat(), day.isoformat(), measured, manual]
            for day, (measured, manual) in sorted(by_day.items())
            for period, start in periods_of(day)
        ]
    )
    totals = _period_totals(
        connection.execute(_ADD_TO_TOTALS_SQLITE, {"mine_id": mine_id, "rows": encoded})
    )
    return Added(totals, mine_totals(session, mine_id, (hour_from, hour_to), (day_first, day_last)))


def _day(value: date | str) -> date:
    """A date column read through text SQL (SQLite gives its ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _period_totals(rows: Iterable[Any]) -> PeriodTotals:
    return {
        (str(period), _day(start)): (int(measured), int(manual), int(raw))
        for period, start, measured, manual, raw in rows
    }


def hold_mine(session: Session, mine_id: int | None) -> None:
    """Hold a mine's production (every mine's: None) until the transaction ends: its
    points' rows, locked in id order as ingest locks them. Whoever adds to the rollups or
    changes the coefficients in force holds it, so that the running totals count every
    day at the coefficient the committed data say. SQLite has one writer at a time
    already."""
    connection = core(session)
    if connection.dialect.name != "postgresql":
        return
    if mine_id is None:
        connection.execute(_HOLD_ALL).all()
    else:
        connection.execute(_HOLD_MINE, {"mine_id": mine_id}).all()


_HOLD_ALL = select(Point.id).order_by(Point.id).with_for_update(key_share=True)
_HOLD_MINE = _HOLD_ALL.where(Point.mine_id == bindparam("mine_id"))


def stored_totals(
    session: Session, mine_id: int, keys: Iterable[tuple[str, date]] | None = None
) -> PeriodTotals:
    """A mine's running totals (all of them, or those of ``keys`` that exist)."""
    query = select(
        MinePeriodTotal.period,
        MinePeriodTotal.start_day,
        MinePeriodTotal.measured_kg,
        MinePeriodTotal.manual_kg,
        MinePeriodTotal.raw_units,
    ).where(MinePeriodTotal.mine_id == mine_id)
    if keys is not None:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        query = query.where(tuple_(MinePeriodTotal.period, MinePeriodTotal.start_day).in_(wanted))
    return _period_totals(session.execute(query))


def _period_start(dialect: str, period: str, day: Any) -> ColumnElement[Any]:
    # the period written into the SQL: bound, it would be a parameter in the select and
    # another in the GROUP BY, which PostgreSQL does not take for the same expression
    if dialect == "postgresql":
        return cast(func.date_trunc(literal_column(f"'{period}'"), cast(day, DateTime)), Date)
    return type_coerce(func.date(day, literal_column(f"'start of {period}'")), Date)


def totals_from_days(
    session: Session,
    mine_id: int | None = None,
    first: date | None = None,
    last: date | None = None,
) -> dict[int, PeriodTotals]:
    """What the running totals must hold, summed from the daily rollups with the
    coefficient in force each day: per mine (one, or all), the months and years of the
    local days [first, last] (every day when not given)."""
    dialect = session.get_bind().dialect.name
    found: dict[int, PeriodTotals] = {}
    for period in (MONTH, YEAR):
        start = _period_start(dialect, period, DailyProduction.local_day)
        query = _sums(DailyProduction, DailyProduction.mine_id, start)
        if mine_id is not None:
            query = query.where(DailyProduction.mine_id == mine_id)
        if first is not None:
            query = query.where(DailyProduction.local_day >= first)
        if last is not None:
            query = query.where(DailyProduction.local_day <= last)
        for mine, day, measured, manual, raw in session.execute(query):
            found.setdefault(mine, {})[(period, _day(day))] = (
                int(measured),
                int(manual),
                int(raw),
            )
    return found


def period_sums(
    session: Session, mine_ids: Sequence[int], period: str, starts: Sequence[date]
) -> dict[tuple[int, date], Sums]:
    """Per mine and whole month or year (MONTH or YEAR, by its first local day), from the
    running totals: what ``range_sums`` of the period's days gives, without summing them.
    On PostgreSQL the mines and starts are two array parameters of one statement run on
    the driver (a province's table: 1,000 ids written into the SQL cost more than the
    query)."""
    connection = core(session)
    days = sorted(set(starts))
    if connection.dialect.name == "postgresql":
        rows: Iterable[Sequence[Any]] = driver.rows(
            connection,
            _PERIOD_SUMS_PG,
            {"mine_ids": list(mine_ids), "period": period, "starts": days},
        )
    else:
        rows = connection.execute(
            _period_sums(
                _in(MinePeriodTotal.mine_id, mine_ids),
                MinePeriodTotal.period == period,
                MinePeriodTotal.start_day.in_(days),
            )
        )
    return {
        (mine_id, start): (int(measured), int(manual), int(raw))
        for mine_id, start, measured, manual, raw in rows
    }


def _period_sums(*where: ColumnElement[bool]) -> Select[int, date, int, int, int]:
    return select(
        MinePeriodTotal.mine_id,
        MinePeriodTotal.start_day,
        MinePeriodTotal.measured_kg,
        MinePeriodTotal.manual_kg,
        MinePeriodTotal.raw_units,
    ).where(*where)


_PERIOD_SUMS_PG = Hot(
    _period_sums(
        MinePeriodTotal.mine_id == any_(bindparam("mine_ids", type_=postgresql.ARRAY(BigInteger))),
        MinePeriodTotal.period == bindparam("period"),
        MinePeriodTotal.start_day == any_(bindparam("starts", type_=postgresql.ARRAY(Date))),
    )
)


def all_stored_totals(session: Session) -> dict[int, PeriodTotals]:
    """Every mine's running totals."""
    found: dict[int, PeriodTotals] = {}
    for mine, period, start, measured, manual, raw in session.execute(
        select(
            MinePeriodTotal.mine_id,
            MinePeriodTotal.period,
            MinePeriodTotal.start_day,
            MinePeriodTotal.measured_kg,
            MinePeriodTotal.manual_kg,
            MinePeriodTotal.raw_units,
        )
    ):
        found.setdefault(mine, {})[(period, start)] = (int(measured), int(manual), int(raw))
    return found


def recompute_totals(
    session: Session, mine_id: int | None, first: date | None = None, last: date | None = None
) -> None:
    """Recompute a mine's running totals (every mine's: None) from the daily rollups: of
    the whole years the local days [first, last] fall in (all of them when not given).
    What a change of the coefficients in force does, and the way to repair totals found
    wrong or to fill them after rollups were loaded beside ``add_to_rollups``."""
    hold_mine(session, mine_id)
    stale = delete(MinePeriodTotal)
    if mine_id is not None:
        stale = stale.where(MinePeriodTotal.mine_id == mine_id)
    if first is not None:
        first = date(first.year, 1, 1)
        stale = stale.where(MinePeriodTotal.start_day >= first)
    if last is not None:
        last = date(last.year, 12, 31)
        stale = stale.where(MinePeriodTotal.start_day <= last)
    session.execute(stale)
    rows = [
        {
            "mine_id": mine,
            "period": period,
            "start_day": start,
            "measured_kg": measured,
            "manual_kg": manual,
            "raw_units": raw,
        }
        for mine, totals in sorted(totals_from_days(session, mine_id, first, last).items())
        for (period, start), (measured, manual, raw) in sorted(totals.items())
    ]
    if rows:
        session.execute(insert(MinePeriodTotal), rows)


def mine_hour_kg(
    session: Session, mine_id: int, hours: Iterable[datetime]
) -> dict[datetime, tuple[int, int]]:
    """A mine's stored (measured kg, manual kg) of each of these hours (UTC starts) that
    has any: what the hourly limit (domain/limits.py) is checked against."""
    wanted = set(hours)
    if not wanted:
        return {}
    first, last = min(wanted), max(wanted)
    if last - first <= MAX_HOURS_SPANNED:
        # a batch's hours are a few consecutive ones: the span, read by a statement of
        # one shape (run on the driver), and the hours not asked for left out
        rows = driver.rows(
            core(session), _MINE_HOURS_KG, {"mine_id": mine_id, "first": first, "last": last}
        )
    else:
        rows = list(
            core(session).execute(_MINE_HOUR_KG, {"mine_id": mine_id, "hours": sorted(wanted)})
        )
    return {hour: (int(measured), int(manual)) for hour, measured, manual in rows if hour in wanted}


#: the widest span of hours ``mine_hour_kg`` reads whole
MAX_HOURS_SPANNED = timedelta(hours=48)


def _mine_hour_kg(*where: ColumnElement[bool]) -> Select[datetime, int, int]:
    return (
        select(
            HourlyProduction.hour_start,
            func.sum(HourlyProduction.measured_kg),
            func.sum(HourlyProduction.manual_kg),
        )
        .where(HourlyProduction.mine_id == bindparam("mine_id"), *where)
        .group_by(HourlyProduction.hour_start)
    )


#: read for every batch: built once
_MINE_HOURS_KG = Hot(
    _mine_hour_kg(
        HourlyProduction.hour_start >= bindparam("first"),
        HourlyProduction.hour_start <= bindparam("last"),
    )
)
_MINE_HOUR_KG = _mine_hour_kg(HourlyProduction.hour_start.in_(bindparam("hours", expanding=True)))


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


def mine_totals(
    session: Session,
    mine_id: int,
    hours: tuple[datetime, datetime] | None,
    days: tuple[date, date] | None,
) -> MineTotals:
    """One mine's raw units per hour in [start, end) and per local day in [first, last]
    (those with any), in one query: a UNION ALL of what ``hourly_sums`` and ``daily_sums``
    would read. Months and years are read from the running totals (``stored_totals``)."""
    totals = MineTotals()
    if hours is None and days is None:
        return totals
    params: dict[str, Any] = {"mine_id": mine_id}
    if hours is not None:
        params.update(hour_from=hours[0], hour_to=hours[1])
    if days is not None:
        params.update(day_first=days[0], day_last=days[1])
    statement = _mine_totals_statement(hours is not None, days is not None)
    for branch, hour, day, raw in driver.rows(core(session), statement, params):
        if branch == -2:
            totals.hours[hour] = int(raw)
        else:
            totals.days[day] = int(raw)
    return totals


@functools.cache
def _mine_totals_statement(hours: bool, days: bool) -> Any:
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
    if days:
        branches.append(
            select(
                literal_column("-1").label("branch"),
                cast(null(), HourlyProduction.hour_start.type).label("hour"),
                DailyProduction.local_day.label("day"),
                _raw_units(DailyProduction.measured_kg, DailyProduction.manual_kg).label("raw"),
            )
            .select_from(DailyProduction)
            .outerjoin(CoefficientSpan, _span_join(DailyProduction))
            .where(
                DailyProduction.mine_id == mine_id,
                DailyProduction.local_day >= bindparam("day_first"),
                DailyProduction.local_day <= bindparam("day_last"),
            )
            .group_by(DailyProduction.local_day)
        )
    return Hot(branches[0] if len(branches) == 1 else union_all(*branches))


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
