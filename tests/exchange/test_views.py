"""Read-only tables: the version-1 views hold the figures of conftest.py (worked out by
hand there), on both databases; on PostgreSQL a role made by the CLI reads the views and
nothing else, and cannot write."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from coalwatch.cli import main
from coalwatch.exchange.views import VIEWS
from coalwatch.storage.session import make_engine
from tests.exchange.conftest import at
from tests.support.world import World


def rows(url: str, query: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(query))]
    finally:
        engine.dispose()


def utc(value: Any) -> datetime:
    """A timestamp as the backend returns it (SQLite: naive UTC text), zone-aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_the_views_hold_the_figures(mine: World) -> None:
    points = rows(mine.url, "SELECT * FROM exchange_v1_points ORDER BY point_code")
    assert [(p["point_code"], p["point_kind"]) for p in points] == [("B1", "belt"), ("K1", "skip")]

    hourly = rows(mine.url, "SELECT * FROM exchange_v1_hourly ORDER BY point_code")
    # B1: 500 + 750 = 1,250 kg; K1: 8,250 + 7,750 = 16,000 kg; coefficient 4.5 % = 450
    assert [(h["point_code"], h["gross_kg"], h["coefficient_hundredths"]) for h in hourly] == [
        ("B1", 1250, 450),
        ("K1", 16000, 450),
    ]
    assert {utc(h["hour_start"]) for h in hourly} == {at(11, 0)}
    # raw units (1/10,000 kg): 1,250 × 9,550 + 16,000 × 9,550 = 164,737,500 = 16.47375 t
    assert sum(h["raw_units"] for h in hourly) == 164_737_500
    daily = rows(mine.url, "SELECT SUM(gross_kg) AS g, SUM(raw_units) AS r FROM exchange_v1_daily")
    assert (daily[0]["g"], daily[0]["r"]) == (17250, 164_737_500)

    realtime = {r["point_code"]: r for r in rows(mine.url, "SELECT * FROM exchange_v1_realtime")}
    assert realtime["B1"]["total_kg"] == 101250 and utc(realtime["B1"]["total_ts"]) == at(11, 30)
    assert realtime["K1"]["trip_kg"] == 7750 and utc(realtime["K1"]["trip_ts"]) == at(11, 25)

    statistics = rows(
        mine.url, "SELECT * FROM exchange_v1_statistics ORDER BY point_code, window_start"
    )
    # B1: the first reading (no production) at 11:10, +500 kg at 11:20, +750 kg at 11:30
    # (640 and 600.5 t/h); K1: trips at 11:15 and 11:25
    assert [
        (s["point_code"], utc(s["window_start"]), s["gross_kg"], s["max_flow_kgph"], s["samples"])
        for s in statistics
    ] == [
        ("B1", at(11, 10), 0, None, 1),
        ("B1", at(11, 20), 500, 640000, 1),
        ("B1", at(11, 30), 750, 600500, 1),
        ("K1", at(11, 15), 8250, None, 1),
        ("K1", at(11, 25), 7750, None, 1),
    ]
    [alarm] = rows(mine.url, "SELECT * FROM exchange_v1_alarms")
    assert (alarm["alarm_type"], alarm["point_code"], alarm["state"]) == (
        "enclosure_open",
        "B1",
        "active",
    )


@pytest.fixture
def role() -> Iterator[str]:
    name = f"cw_reader_{secrets.token_hex(4)}"
    yield name
    from tests.conftest import PG_SERVER

    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        if connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}
        ).first():
            connection.execute(text(f'DROP OWNED BY "{name}"'))
            connection.execute(text(f'DROP ROLE "{name}"'))
    admin.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reader_role_reads_the_views_only(
    mine: World,
    role: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", mine.url)
    monkeypatch.setenv("COALWATCH_SECRET_KEY", "k")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    assert main(["exchange", "reader-role", "--name", role, "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert f"role {role} may read" in out

    url = make_url(mine.url)
    schema = url.query["options"].split("=", 1)[1]  # type: ignore[union-attr]
    dsn = f"host=127.0.0.1 port=5432 dbname=test user={role} password=a-long-password-1"
    with psycopg.connect(dsn, options=f"-csearch_path={schema}", autocommit=True) as connection:
        for view in VIEWS:
            connection.execute(f"SELECT * FROM {view}").fetchall()
        gross = connection.execute("SELECT SUM(gross_kg) FROM exchange_v1_hourly").fetchone()
        assert gross == (17250,)
        errors = psycopg.errors
        refused = [
            ("SELECT * FROM records", errors.InsufficientPrivilege),
            ("SELECT * FROM users", errors.InsufficientPrivilege),
            ("DELETE FROM alarms", errors.ReadOnlySqlTransaction),
            ("CREATE TABLE sneaky (x int)", errors.ReadOnlySqlTransaction),
            ("UPDATE exchange_v1_alarms SET state = 'closed'", errors.Error),
        ]
        for statement, error in refused:
            with pytest.raises(error):
                connection.execute(statement)
        # with the read-only default lifted, the privileges still refuse every write
        connection.execute("SET default_transaction_read_only = off")
        for statement in (
            "DELETE FROM alarms",
            "INSERT INTO mines (code) VALUES ('X')",
            "CREATE TABLE sneaky (x int)",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement)


def test_a_reader_role_needs_postgresql(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_SECRET_KEY", "k")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    assert main(["exchange", "reader-role", "--name", "reader", "--password-stdin"]) == 1
    assert "needs PostgreSQL" in capsys.readouterr().err
