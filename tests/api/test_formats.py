"""The read endpoints as CSV (``format=csv``) and a mine's status: the CSV parses with the
csv module and carries the JSON's figures. The sums (an org's production, a mine's day) on
SQLite and PostgreSQL; the CSV of figures already compared on both, on SQLite.

The clock stands at 2026-03-15 12:00 in Asia/Shanghai. Mine M1 (C1) has belts B1 and B2;
B1 ran 130.5 t between 09:00 and 10:00 (over the hourly capacity H = 62.5 t, so an
overproduction alarm), B2 sent nothing but a conveyor state. Mine M2 (C1) has nothing.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coalwatch.config import Settings
from coalwatch.web.app import create_app
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def D(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=NOW) as w:
        w.mine("M1", belts=("B1", "B2"))
        w.mine("M2", org="C1", station="S2")
        w.ok(
            w.upload(
                "S1",
                [
                    totalizer(1, local(2026, 3, 14, 22, 0), "B1", "1000"),
                    totalizer(2, local(2026, 3, 14, 23, 0), "B1", "1012.25"),
                    totalizer(3, local(2026, 3, 15, 9, 0), "B1", "1012.25"),
                    {
                        "seq": 4,
                        "ts": local(2026, 3, 15, 9, 0),
                        "type": "conveyor",
                        "point": "B1",
                        "running": True,
                    },
                    totalizer(5, local(2026, 3, 15, 10, 0), "B1", "1142.75"),
                    {
                        "seq": 6,
                        "ts": local(2026, 3, 15, 11, 0),
                        "type": "conveyor",
                        "point": "B2",
                        "running": False,
                    },
                ],
            )
        )
        w.ok(
            w.post(
                "/mines/M1/faults",
                {
                    "phenomenon": "B2 皮带秤无读数",
                    "occurred_at": local(2026, 3, 15, 11, 0).isoformat(),
                },
            )
        )
        yield w


def table(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def number(text: str) -> Decimal | None:
    return None if text == "" else Decimal(text)


FIGURES = ("gross_t", "raw_t", "manual_t", "capacity_t", "approved_capacity_t", "plan_t", "ratio")
RANGE = {"from": local(2026, 3, 14).isoformat(), "to": local(2026, 3, 16).isoformat()}


def same_figures(row: dict[str, str], figure: dict[str, Any]) -> None:
    for name in FIGURES:
        expected = figure[name]
        assert number(row[name]) == (None if expected is None else D(expected)), name
    assert row["over"] == str(figure["over"]).lower()


@SQLITE_ONLY
def test_mine_production_as_csv_matches_the_json(w: World) -> None:
    params = {"period": "day", **RANGE}
    data = w.ok(w.get("/mines/M1/production", **params))
    rows = table(w.get("/mines/M1/production", format="csv", **params))
    assert [r["start"] for r in rows] == [
        "2026-03-14T00:00:00+08:00",
        "2026-03-15T00:00:00+08:00",
        "total",
    ]
    for row, item in zip(rows, [*data["items"], data["total"]], strict=True):
        same_figures(row, item)
    # 14 Mar: 12.25 t; 15 Mar: 130.5 t
    assert [D(r["gross_t"]) for r in rows] == [D("12.25"), D("130.5"), D("142.75")]


def test_org_production_as_csv_has_a_row_per_mine_and_period_and_the_sums(w: World) -> None:
    params = {"period": "day", **RANGE}
    data = w.ok(w.get("/orgs/C1/production", **params))
    rows = table(w.get("/orgs/C1/production", format="csv", **params))
    assert [(r["mine"], r["start"][:10]) for r in rows] == [
        ("M1", "2026-03-14"),
        ("M1", "2026-03-15"),
        ("M1", "total"),
        ("M2", "2026-03-14"),
        ("M2", "2026-03-15"),
        ("M2", "total"),
        ("*", "2026-03-14"),
        ("*", "2026-03-15"),
        ("*", "total"),
    ]
    expected = [figure for mine in data["mines"] for figure in [*mine["items"], mine["total"]]] + [
        *data["items"],
        data["total"],
    ]
    for row, figure in zip(rows, expected, strict=True):
        same_figures(row, figure)
    assert rows[-1]["name"] == "合计" and D(rows[-1]["gross_t"]) == D("142.75")


@SQLITE_ONLY
def test_alarms_as_csv_match_the_json(w: World) -> None:
    items = w.ok(w.get("/alarms"))["items"]
    assert items, "the fixture raises an overproduction alarm"
    rows = table(w.get("/alarms", format="csv"))
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        assert set(row) == set(item)
        assert int(row["id"]) == item["id"]
        assert (row["type"], row["state"], row["mine"]) == (item["type"], item["state"], "M1")
        assert datetime.fromisoformat(row["start"]) == datetime.fromisoformat(item["start"])
        assert row["value"] == (item["value"] or "")


@SQLITE_ONLY
def test_faults_as_csv_match_the_json(w: World) -> None:
    items = w.ok(w.get("/faults", mine="M1"))["items"]
    rows = table(w.get("/faults", mine="M1", format="csv"))
    assert [(int(r["id"]), r["phenomenon"], r["kind"]) for r in rows] == [
        (i["id"], i["phenomenon"], i["kind"]) for i in items
    ]
    assert rows[0]["phenomenon"] == "B2 皮带秤无读数"
    assert datetime.fromisoformat(rows[0]["occurred_at"]) == local(2026, 3, 15, 11, 0)


def test_mine_status_shows_links_conveyors_alarms_faults_and_today(w: World) -> None:
    status = w.ok(w.get("/mines/M1/status"))
    assert status["mine"] == "M1" and status["org"] == "C1"
    assert status["stations"] == [
        {"code": "S1", "last_seen_at": "2026-03-15T04:00:00Z", "online": True, "acked_seq": 6}
    ]
    points = {p["code"]: p for p in status["points"]}
    assert points["B1"]["conveyor_running"] is True
    assert points["B1"]["last_reading_at"] == "2026-03-15T02:00:00Z"
    assert D(points["B1"]["last_total_t"]) == D("1142.75")
    assert points["B2"]["conveyor_running"] is False
    assert points["B2"]["last_reading_at"] is None and points["B2"]["last_total_t"] is None
    assert [a["type"] for a in status["active_alarms"]] == [
        a["type"] for a in w.ok(w.get("/alarms", mine="M1"))["items"] if a["state"] != "closed"
    ]
    assert [f["phenomenon"] for f in status["open_faults"]] == ["B2 皮带秤无读数"]
    assert status["today"] == w.ok(w.get("/mines/M1/summary"))["day"]
    assert D(status["today"]["gross_t"]) == D("130.5")
    # no record for more than the 3-minute communication-loss threshold: offline
    w.clock.advance(minutes=3, seconds=1)
    assert w.ok(w.get("/mines/M1/status"))["stations"][0]["online"] is False
    assert w.ok(w.get("/mines/M2/status"))["points"][0]["conveyor_running"] is None


@SQLITE_ONLY
def test_mine_status_as_csv_matches_the_json(w: World) -> None:
    status = w.ok(w.get("/mines/M1/status"))
    rows = table(w.get("/mines/M1/status", format="csv"))
    assert [(r["section"], r["code"]) for r in rows] == [
        ("mine", "M1"),
        ("station", "S1"),
        ("point", "B1"),
        ("point", "B2"),
    ]
    mine, station, b1, b2 = rows
    assert int(mine["active_alarms"]) == len(status["active_alarms"])
    assert int(mine["open_faults"]) == 1
    assert D(mine["today_gross_t"]) == D(status["today"]["gross_t"])
    assert D(mine["today_raw_t"]) == D(status["today"]["raw_t"])
    assert (station["online"], station["acked_seq"]) == ("true", "6")
    assert (b1["kind"], b1["conveyor_running"], D(b1["last_total_t"])) == (
        "belt",
        "true",
        D("1142.75"),
    )
    assert (b2["conveyor_running"], b2["last_reading_at"]) == ("false", "")


@SQLITE_ONLY
def test_unknown_format_is_refused(w: World) -> None:
    response = w.get("/alarms", format="xml")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/mines/{mine}/production",
        "/api/v1/orgs/{org}/production",
        "/api/v1/alarms",
        "/api/v1/faults",
        "/api/v1/mines/{mine}/status",
        "/api/v1/mines/{mine}/statements/{month}",
        "/api/v1/orgs/{org}/statements/{month}",
    ],
)
def test_csv_is_documented_with_an_example(path: str) -> None:
    app = create_app(Settings(database_url="sqlite:///:memory:", jobs=False))
    operation = app.openapi()["paths"][path]["get"]
    content = operation["responses"]["200"]["content"]
    assert content["text/csv"]["schema"] == {"type": "string"}
    example = list(csv.reader(io.StringIO(content["text/csv"]["example"])))
    assert len(example) >= 2 and {len(row) for row in example} == {len(example[0])}
    assert "application/json" in content
    (fmt,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert "csv" in fmt["schema"]["enum"] and fmt["examples"]
