"""区域监管: a province with two counties and three mines; the region's production per
county and mine, the ranking by capacity ratio, open faults and overdue reports (API on
both backends; the pages and their export once). Clock: 2026-03-15 12:00 Asia/Shanghai."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.support.world import World, trip, world
from tests.web.test_accounts import PASSWORD, login

DAY = {"period": "day", "from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"}


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.ok(w.post("/orgs", {"code": "SX", "name": "山西省", "kind": "province"}))
        for county in ("C1", "C2"):
            w.ok(
                w.post(
                    "/orgs",
                    {"code": county, "name": f"{county} 县", "kind": "county", "parent": "SX"},
                )
            )
        # daily capacity = A / 330: M1 1000 t, M2 2000 t, M3 1000 t
        w.mine("M1", org="C1", capacity_t=330000, belts=(), trips=("K1",), station="S1")
        w.mine("M2", org="C1", capacity_t=660000, belts=(), trips=("K1",), station="S2")
        w.mine("M3", org="C2", capacity_t=330000, belts=(), trips=("K1",), station="S3")
        at = w.clock() - timedelta(hours=1)
        # trips of a skip's 100 t at most: 9, 5 and 12 of them make 900, 500 and 1200 t
        for station, net in (("S1", 900), ("S2", 500), ("S3", 1200)):
            seqs = w.stations[station].seqs(net // 100)
            w.ok(w.upload(station, [trip(seq, at, "K1", 100) for seq in seqs]))
        yield w


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def test_production_per_county_and_mine(w: World) -> None:
    rows = w.ok(w.get("/orgs/SX/region-production", **DAY))["rows"]
    got = [
        (r["kind"], r["code"], D(r["figure"]["raw_t"]), D(r["figure"]["capacity_t"])) for r in rows
    ]
    assert got == [
        ("total", "SX", D(2600), D(4000)),  # 900 + 500 + 1200; 1000 + 2000 + 1000
        ("org", "C1", D(1400), D(3000)),  # 900 + 500; 1000 + 2000
        ("mine", "M1", D(900), D(1000)),
        ("mine", "M2", D(500), D(2000)),
        ("org", "C2", D(1200), D(1000)),
        ("mine", "M3", D(1200), D(1000)),
    ]
    assert D(rows[0]["figure"]["ratio"]) == D("0.65")  # 2600 / 4000
    assert rows[5]["figure"]["over"] is True


def test_ranking_by_capacity_ratio_with_open_alarms(w: World) -> None:
    items = w.ok(w.get("/orgs/SX/ranking", **DAY))["items"]
    # 1200 / 1000 = 1.2; 900 / 1000 = 0.9; 500 / 2000 = 0.25
    assert [(i["rank"], i["mine"], D(i["ratio"])) for i in items] == [
        (1, "M3", D("1.2")),
        (2, "M1", D("0.9")),
        (3, "M2", D("0.25")),
    ]
    for item in items:
        open_alarms = [
            a for a in w.alarms() if a["mine"] == item["mine"] and a["state"] != "closed"
        ]
        assert item["alarms_open"] == len(open_alarms)
    assert items[0]["alarms_open"] >= 1  # the day's overproduction
    assert [i["mine"] for i in w.ok(w.get("/orgs/C1/ranking", **DAY))["items"]] == ["M1", "M2"]


def test_open_faults_and_overdue_reports(w: World) -> None:
    now = w.clock()
    late = w.ok(
        w.post(
            "/mines/M1/faults",
            {"phenomenon": "通讯中断", "occurred_at": (now - timedelta(hours=3)).isoformat()},
        )
    )
    w.ok(
        w.post(
            "/mines/M3/faults",
            {
                "phenomenon": "皮带秤无数据",
                "occurred_at": (now - timedelta(minutes=30)).isoformat(),
            },
        )
    )
    for role in ("duty_operator", "duty_mine_manager", "chief_engineer"):
        w.ok(w.post("/mines/M1/reports/daily/2026-03-14/sign", {"role": role}))
    view = w.ok(w.get("/orgs/SX/overdue"))
    assert {f["mine"] for f in view["open"]} == {"M1", "M3"}
    assert [f["id"] for f in view["late"]] == [late["id"]]  # 3 h unreported: past 2 h
    reports = view["reports"]
    assert reports["day"] == "2026-03-14"
    # 12:00 on the 15th is past the 10:00 deadline: M2 and M3 are overdue
    assert {r["mine"]: r["state"] for r in reports["items"]} == {
        "M1": "submitted",
        "M2": "overdue",
        "M3": "overdue",
    }
    w.clock.advance(hours=-3)  # 09:00: before the deadline
    states = w.ok(w.get("/orgs/SX/report-status", day="2026-03-14"))["items"]
    assert {r["mine"]: r["state"] for r in states} == {
        "M1": "submitted",
        "M2": "pending",
        "M3": "pending",
    }
    assert w.get("/orgs/NOPE/overdue").status_code == 404


def test_pages_show_the_region_and_export_it(sqlite_url: str) -> None:
    with world(sqlite_url) as w:
        w.mine("M1", org="C1", capacity_t=330000, belts=(), trips=("K1",), station="S1")
        at = w.clock() - timedelta(hours=1)  # 9 trips of 100 t: 900 t
        w.ok(w.upload("S1", [trip(seq, at, "K1", 100) for seq in w.stations["S1"].seqs(9)]))
        # the initial password is fine here
        w.users([("reg", "C1", ["regulator"]), ("op", "C1", ["duty_operator"])], PASSWORD, True)
        client = w.client
        assert login(client, "reg").status_code == 303
        page = client.get("/region/production", params={"period": "day"})
        assert page.status_code == 200 and "辖区产量" in page.text and 'data-code="M1"' in page.text
        ranking = client.get("/region/ranking")
        assert ranking.status_code == 200 and 'data-mine="M1"' in ranking.text
        faults = client.get("/region/faults")
        assert faults.status_code == 200 and "监测日报表上报" in faults.text
        exported = client.get(
            "/region/production",
            params={
                "org": "C1",
                "period": "day",
                "from": "2026-03-15",
                "to": "2026-03-15",
                "format": "csv",
            },
        )
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert [row[1] for row in table[1:]] == ["C1", "M1"]
        assert D(table[2][3]) == D(900)
        assert client.get("/region/production", params={"format": "xlsx"}).status_code == 200
        client.cookies.clear()
        assert login(client, "op").status_code == 303
        assert client.get("/region/ranking", follow_redirects=False).status_code in (302, 303, 403)
