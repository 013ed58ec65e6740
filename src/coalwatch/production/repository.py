"""All SQL of production figures: the hourly and daily rollups and their sums.

Raw coal is computed at read time: each day's gross is multiplied by
(10000 − k) for the coefficient span in force on that day, in integer raw
units (1/10,000 kg). So a coefficient approved for past dates changes the
figures of those dates at once, with nothing to recompute.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, select
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

#: (point_id, hour_start UTC) → (local_day, measured_kg, manual_kg)
HourDeltas = Mapping[tuple[int, datetime], tuple[date, int, int]]


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    session.execute(_upsert_statement(dialect, model.__table__, tuple(keys)), rows)


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


def capacities(session: Session, mine_ids: Sequence[int]) -> list[Row[Any]]:
    """(mine_id, annual_kg, effective_from) rows in order of approval: rows, not
    entities (building 1,000 ORM objects costs more than the query)."""
    return list(
        session.execute(
            select(Capacity.mine_id, Capacity.annual_kg, Capacity.effective_from)
            .where(_in(Capacity.mine_id, mine_ids))
            .order_by(Capacity.id)
        )
    )


def reductions(session: Session, mine_ids: Sequence[int]) -> list[Row[Any]]:
    return list(
        session.execute(
            select(
                CapacityReduction.mine_id,
                CapacityReduction.amount_kg_num,
                CapacityReduction.amount_kg_den,
                CapacityReduction.effective_from,
            ).where(_in(CapacityReduction.mine_id, mine_ids))
        )
    )


def plans(session: Session, mine_ids: Sequence[int], first: date, last: date) -> list[Row[Any]]:
    return list(
        session.execute(
            select(Plan.mine_id, Plan.month, Plan.month_kg, Plan.day_kg, Plan.hour_kg).where(
                _in(Plan.mine_id, mine_ids), Plan.month >= first, Plan.month <= last
            )
        )
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
