"""Hot statements on the driver's cursor (storage/driver.py) behave as ``execute`` does:
the column types' processing both ways, the engine's cursor events, SQLAlchemy's errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, text
from sqlalchemy.exc import IntegrityError

from coalwatch.storage import driver
from coalwatch.storage.driver import Hot
from coalwatch.storage.models import Org
from coalwatch.storage.session import make_engine

BEIJING = timezone(timedelta(hours=8))

_INSERT_ORG = insert(Org).values(
    {c: bindparam(c) for c in ("code", "name", "kind", "path", "created_at")}
)
_ADD_ORG = Hot(_INSERT_ORG.returning(Org.id, Org.created_at))
_ORG = Hot(
    select(Org.code, Org.created_at, Org.kind).where(
        Org.code == bindparam("code"), Org.kind == "province"
    )
)


def _org(code: str, at: datetime) -> dict[str, Any]:
    return {"code": code, "name": code, "kind": "province", "path": f"/{code}/", "created_at": at}


def test_instants_are_stored_in_utc_and_read_zone_aware(database_url: str) -> None:
    """08:30 in Beijing is stored and read as 00:30 UTC, by the statement and by Core
    alike; the literal a statement holds (kind = 'province') is bound too."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            ((org_id, created),) = driver.rows(
                connection, _ADD_ORG, _org("P1", datetime(2026, 12, 7, 8, 30, tzinfo=BEIJING))
            )
            assert created == datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
            assert created.utcoffset() == timedelta(0)
            assert driver.rows(connection, _ORG, {"code": "P1"}) == [
                ("P1", datetime(2026, 12, 7, 0, 30, tzinfo=UTC), "province")
            ]
            core = connection.execute(select(Org.created_at).where(Org.id == org_id)).scalar_one()
            assert core == created
            assert driver.rows(connection, _ORG, {"code": "P2"}) == []
    finally:
        engine.dispose()


def test_a_naive_instant_is_refused_before_it_reaches_the_database(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            with pytest.raises(ValueError, match="naive datetime"):
                naive = datetime(2026, 12, 7, 8, 30)  # noqa: DTZ001
                driver.rows(connection, _ADD_ORG, _org("P1", naive))
            assert driver.rows(connection, _ORG, {"code": "P1"}) == []
    finally:
        engine.dispose()


def test_the_engines_cursor_events_see_each_statement(database_url: str) -> None:
    """What the database watchdog, the fact cache and the benchmarks' counters listen to."""
    engine = make_engine(database_url)
    seen: list[tuple[str, bool]] = []
    after: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append((a[2], a[5])))
    event.listen(engine, "after_cursor_execute", lambda *a: after.append(a[2]))
    try:
        with engine.begin() as connection:
            seen.clear()
            after.clear()
            at = datetime(2026, 12, 7, tzinfo=UTC)
            driver.rows(connection, _ADD_ORG, _org("P1", at))
            driver.run_many(connection, Hot(_INSERT_ORG), [_org("P2", at), _org("P3", at)])
        assert [many for _, many in seen] == [False, True]
        assert all("INSERT INTO orgs" in sql for sql, _ in seen)
        assert after == [sql for sql, _ in seen]
    finally:
        engine.dispose()


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(database_url: str) -> None:
    """A duplicate code is SQLAlchemy's IntegrityError (what the committer's rules read),
    and the transaction rolls back cleanly."""
    engine = make_engine(database_url)
    at = datetime(2026, 12, 7, tzinfo=UTC)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            driver.rows(connection, _ADD_ORG, _org("P1", at))
            driver.rows(connection, _ADD_ORG, _org("P1", at))
        with engine.begin() as connection:
            assert driver.rows(connection, _ORG, {"code": "P1"}) == []
    finally:
        engine.dispose()


def test_a_statement_with_an_expanding_list_is_refused() -> None:
    hot = Hot(select(Org.id).where(Org.code.in_(bindparam("codes", expanding=True))))
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as connection, pytest.raises(ValueError, match="plain bind"):
            driver.rows(connection, hot, {"codes": ["P1"]})
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_array_literals_are_read_as_the_lists_they_stand_for(database_url: str) -> None:
    """Instants keep their zone (08:30 in Beijing is 00:30 UTC), dates, numbers beyond 32
    bits, booleans and missing values come back as they went."""
    engine = make_engine(database_url)
    instants = [datetime(2026, 12, 7, 8, 30, 15, 250000, tzinfo=BEIJING), None]
    try:
        with engine.begin() as connection:
            row = connection.execute(
                text(
                    "SELECT CAST(:t AS timestamptz[]), CAST(:d AS date[]), CAST(:n AS bigint[]),"
                    " CAST(:e AS integer[]), CAST(:b AS boolean[])"
                ),
                {
                    "t": driver.pg_array(instants),
                    "d": driver.pg_array([date(2026, 12, 31), date(2027, 1, 1)]),
                    "n": driver.pg_array([2**40, -7, None]),
                    "e": driver.pg_array([]),
                    "b": driver.pg_array([True, False, None]),
                },
            ).one()
    finally:
        engine.dispose()
    assert row[0] == [datetime(2026, 12, 7, 0, 30, 15, 250000, tzinfo=UTC), None]
    assert row[1] == [date(2026, 12, 31), date(2027, 1, 1)]
    assert row[2] == [2**40, -7, None]
    assert row[3] == []
    assert row[4] == [True, False, None]


def test_a_naive_instant_is_refused_in_an_array() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        driver.pg_array([datetime(2026, 12, 7, 8, 30)])  # noqa: DTZ001


def test_statements_of_one_parameter_and_of_none_run_too(database_url: str) -> None:
    engine = make_engine(database_url)
    one = Hot(select(Org.code).where(Org.code == bindparam("code")))
    none = Hot(select(Org.code).order_by(Org.code))
    try:
        with engine.begin() as connection:
            at = datetime(2026, 12, 7, tzinfo=UTC)
            driver.run_many(connection, Hot(_INSERT_ORG), [_org("P1", at), _org("P2", at)])
            assert driver.rows(connection, one, {"code": "P2"}) == [("P2",)]
            assert driver.rows(connection, none) == [("P1",), ("P2",)]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 12, 7, 8, 30, tzinfo=BEIJING),
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    ],
)
def test_an_instant_is_bound_on_sqlite_as_sqlalchemys_datetime_binds_it(instant: datetime) -> None:
    """``UTCDateTime`` binds an instant on SQLite in one step: the text SQLAlchemy's own
    SQLite DATETIME makes of it in UTC (what the rows already stored hold and compare as)."""
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from coalwatch.storage.base import UTCDateTime

    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(instant) == theirs(instant.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        ours(instant.replace(tzinfo=None))
