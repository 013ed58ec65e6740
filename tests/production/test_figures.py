"""Figures read through the API: capacity, plans, coefficients, reductions, manual
production and scope, on SQLite and PostgreSQL.

The clock stands at 2026-03-15 12:00 in Asia/Shanghai. Mine M1 has A = 330,000 t:
D = 330,000 / 330 = 1,000 t, M = 1,000 × 30 = 30,000 t, H = 1,000 / 16 = 62.5 t.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from coalwatch.mines import repository as mine_repository
from coalwatch.mines.service import apply_reduction
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def D(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url) as w:
        w.mine("M1")
        yield w


def produce(w: World, readings: list[tuple[datetime, str]]) -> None:
    """Belt readings for B1, continuing the station's sequence."""
    seqs = w.stations["S1"].seqs(len(readings))
    w.ok(
        w.upload(
            "S1", [totalizer(s, ts, "B1", t) for s, (ts, t) in zip(seqs, readings, strict=True)]
        )
    )


def reduce(w: World, code: str, tonnes: Fraction, day: date) -> None:
    """A capacity reduction of the mine for an unreported fault, from ``day``, written
    through an engine of its own (as the timed rules' process writes it)."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        mine, _ = mine_repository.mine_by_code(session, code) or (None, None)
        assert mine is not None
        apply_reduction(session, mine, tonnes, day, "fault", w.clock())
    engine.dispose()


def summary(w: World, **params: Any) -> dict[str, Any]:
    return w.ok(w.get("/mines/M1/summary", **params))


def test_capacities_follow_from_the_annual_capacity(w: World) -> None:
    s = summary(w)
    assert [D(s[p]["capacity_t"]) for p in ("hour", "day", "month", "year")] == [
        D("62.5"),
        D(1000),
        D(30000),
        D(330000),
    ]
    assert s["hour"]["plan_t"] is None and s["hour"]["ratio"] == 0


def test_hour_above_its_capacity_is_over_with_its_excess(w: World) -> None:
    # 66.5 t raw in the 11:00 hour (k = 0): over H = 62.5 t by 4.0 t
    produce(w, [(local(2026, 3, 15, 11, 0), "100"), (local(2026, 3, 15, 11, 40), "166.5")])
    hour = summary(w, at=local(2026, 3, 15, 11, 59).isoformat())["hour"]
    assert D(hour["raw_t"]) == D("66.5")
    assert hour["over"] is True and D(hour["excess_t"]) == D("4")
    # ratio = 66.5 / 62.5 = 1.064
    assert D(hour["ratio"]) == D("1.064")


def test_summary_counts_from_the_period_start_up_to_at(w: World) -> None:
    produce(
        w,
        [
            (local(2026, 3, 1, 0, 0), "0"),
            (local(2026, 3, 1, 8, 0), "10"),  # +10 t on 1 March
            (local(2026, 3, 15, 9, 0), "40"),  # +30 t on 15 March, hour 9
            (local(2026, 3, 15, 11, 10), "41"),  # +1 t, hour 11
            (local(2026, 3, 15, 11, 50), "43.5"),  # +2.5 t, hour 11, after `at`
        ],
    )
    s = summary(w, at=local(2026, 3, 15, 11, 30).isoformat())
    assert D(s["hour"]["gross_t"]) == D(1)  # only 11:10 is before 11:30
    assert D(s["day"]["gross_t"]) == D(31)
    assert D(s["month"]["gross_t"]) == D(41)
    assert D(s["year"]["gross_t"]) == D(41)
    assert s["at"] == "2026-03-15T11:30:00+08:00"


def test_coefficient_applies_on_its_dates_and_changes_past_figures(w: World) -> None:
    produce(
        w,
        [
            (local(2026, 3, 10, 8, 0), "0"),
            (local(2026, 3, 10, 9, 0), "100"),  # 100 t on 10 March
            (local(2026, 3, 14, 9, 0), "300"),  # 200 t on 14 March
        ],
    )
    month = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00"}

    def march() -> dict[str, Any]:
        return w.ok(w.get("/mines/M1/production", period="month", **month))["items"][0]

    assert D(march()["raw_t"]) == D(300)  # no coefficient approved: raw = gross
    w.ok(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-06-30"},
        )
    )
    # 300 × (1 − 0.045) = 286.5
    assert D(march()["raw_t"]) == D("286.5")
    w.ok(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "6", "effective_from": "2026-03-12", "effective_to": "2026-06-30"},
        )
    )
    # 100 × 0.955 + 200 × 0.94 = 95.5 + 188 = 283.5; gross unchanged
    assert D(march()["raw_t"]) == D("283.5")
    assert D(march()["gross_t"]) == D(300)


def test_capacity_change_holds_from_its_date(w: World) -> None:
    w.ok(w.put("/mines/M1/capacity", {"annual_capacity_t": 660000, "effective_from": "2026-03-10"}))
    days = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            **{"from": "2026-03-09T00:00:00+08:00", "to": "2026-03-11T00:00:00+08:00"},
        )
    )["items"]
    # 9 March: 330,000 / 330 = 1,000 t; 10 March: 660,000 / 330 = 2,000 t
    assert [D(d["capacity_t"]) for d in days] == [D(1000), D(2000)]


def test_plan_overrides_capacity_in_the_ratio(w: World) -> None:
    produce(w, [(local(2026, 3, 15, 8, 0), "0"), (local(2026, 3, 15, 10, 0), "400")])
    w.ok(w.put("/mines/M1/plans/2026-03", {"month_t": 20000, "day_t": 800, "hour_t": 50}))
    day = summary(w)["day"]
    # ratio = 400 / 800 (plan) = 0.5, not 400 / 1,000 (capacity); over compares with D
    assert D(day["plan_t"]) == D(800) and D(day["ratio"]) == D("0.5")
    assert D(day["capacity_t"]) == D(1000) and day["over"] is False
    month = summary(w)["month"]
    assert D(month["ratio"]) == D("0.02")  # 400 / 20,000


def test_a_total_plans_only_what_was_planned_and_divides_by_plan_or_capacity(w: World) -> None:
    """The total of days some of which have a plan: its 产量计划 is the sum of the plans;
    its 产能比 divides by each day's plan, else its capacity."""
    produce(w, [(local(2026, 3, 1, 8, 0), "0"), (local(2026, 3, 1, 10, 0), "400")])
    w.ok(w.put("/mines/M1/plans/2026-03", {"month_t": 20000, "day_t": 800, "hour_t": 50}))
    found = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            **{"from": "2026-02-27T00:00:00+08:00", "to": "2026-03-03T00:00:00+08:00"},
        )
    )
    days = found["items"]
    assert [d["plan_t"] and D(d["plan_t"]) for d in days] == [None, None, D(800), D(800)]
    total = found["total"]
    # planned: 800 + 800 = 1,600 t (27 and 28 February have no plan)
    assert D(total["plan_t"]) == D(1600)
    # 400 / (1,000 + 1,000 + 800 + 800) = 400 / 3,600 = 0.1111 (4 places)
    assert D(total["ratio"]) == D("0.1111")
    assert D(total["capacity_t"]) == D(4000)


def test_capacity_reduction_lowers_the_year_from_its_date(w: World) -> None:
    # fault 30 Jan – 2 Feb unreported: 1,000 × 3 × 4 = 12,000 t, applied from 10 March
    reduce(w, "M1", Fraction(12000), date(2026, 3, 10))
    s = summary(w)
    # A = 330,000 − 12,000 = 318,000; D = 318,000 / 330 = 963.6363… → 963.636
    assert D(s["year"]["capacity_t"]) == D(318000)
    assert D(s["year"]["approved_capacity_t"]) == D(330000)
    assert D(s["day"]["capacity_t"]) == D("963.636")
    # before the reduction's date the full capacity holds
    before = summary(w, at=local(2026, 3, 9, 12, 0).isoformat())
    assert D(before["day"]["capacity_t"]) == D(1000)


def test_manual_production_is_spread_over_its_hours_and_marked(w: World) -> None:
    # 10 t from 09:30 to 11:30: 30 min → 2.5 t, 60 min → 5 t, 30 min → 2.5 t
    entry = w.ok(
        w.post(
            "/mines/M1/manual-production",
            {
                "point": "B1",
                "start": local(2026, 3, 15, 9, 30).isoformat(),
                "end": local(2026, 3, 15, 11, 30).isoformat(),
                "gross_t": 10,
                "reason": "皮带秤故障，人工计量",
            },
        )
    )
    assert entry["overlaps_measured"] is False
    items = w.ok(
        w.get(
            "/mines/M1/production",
            period="hour",
            **{"from": "2026-03-15T09:00:00+08:00", "to": "2026-03-15T12:00:00+08:00"},
        )
    )["items"]
    assert [(D(i["gross_t"]), D(i["manual_t"])) for i in items] == [
        (D("2.5"), D("2.5")),
        (D(5), D(5)),
        (D("2.5"), D("2.5")),
    ]
    assert D(summary(w)["day"]["manual_t"]) == D(10)


def test_manual_production_overlapping_measured_is_flagged(w: World) -> None:
    produce(w, [(local(2026, 3, 15, 9, 0), "0"), (local(2026, 3, 15, 9, 40), "5")])
    entry = w.ok(
        w.post(
            "/mines/M1/manual-production",
            {
                "point": "B1",
                "start": local(2026, 3, 15, 9, 0).isoformat(),
                "end": local(2026, 3, 15, 10, 0).isoformat(),
                "gross_t": 3,
                "reason": "x",
            },
        )
    )
    assert entry["overlaps_measured"] is True


def test_org_production_sums_the_subtree_with_a_row_per_mine(database_url: str) -> None:
    with world(database_url) as w:
        w.ok(w.post("/orgs", {"code": "P", "name": "山西省", "kind": "province"}))
        w.ok(w.post("/orgs", {"code": "C1", "name": "阳城县", "kind": "county", "parent": "P"}))
        w.ok(w.post("/orgs", {"code": "C2", "name": "沁水县", "kind": "county", "parent": "P"}))
        w.mine("M1", org="C1", capacity_t=330000, station="S1")
        w.mine("M2", org="C2", capacity_t=660000, station="S2")
        w.ok(
            w.upload(
                "S1",
                [
                    totalizer(1, local(2026, 3, 15, 8), "B1", "0"),
                    totalizer(2, local(2026, 3, 15, 9), "B1", "120.125"),
                ],
            )
        )
        w.ok(
            w.upload(
                "S2",
                [
                    totalizer(1, local(2026, 3, 15, 8), "B1", "7"),
                    totalizer(2, local(2026, 3, 15, 9), "B1", "87"),
                ],
            )
        )
        day = {"from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"}
        org = w.ok(w.get("/orgs/P/production", period="day", **day))
        # 120.125 + 80 = 200.125 t against D = 1,000 + 2,000 = 3,000 t
        assert D(org["items"][0]["gross_t"]) == D("200.125")
        assert D(org["items"][0]["capacity_t"]) == D(3000)
        assert [(m["mine"], D(m["items"][0]["gross_t"])) for m in org["mines"]] == [
            ("M1", D("120.125")),
            ("M2", D(80)),
        ]
        # a token scoped to county C1 sees M1 only, and M2 not even by URL
        c1 = w.token_for("C1")
        assert [m["code"] for m in w.ok(w.get("/mines", token=c1))["items"]] == ["M1"]
        assert w.get("/mines/M2/summary", token=c1).status_code == 404
        assert w.get("/orgs/P/production", token=c1, period="day", **day).status_code == 404
        assert w.get("/orgs/C1/production", token=c1, period="day", **day).status_code == 200


def test_a_coefficient_change_at_midnight_splits_the_two_days_exactly(w: World) -> None:
    # k = 4.5 % up to 14 March, k = 6 % from 15 March 00:00:00 local
    w.ok(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-03-14"},
        )
    )
    w.ok(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "6", "effective_from": "2026-03-15", "effective_to": "2026-12-31"},
        )
    )
    produce(
        w,
        [
            (local(2026, 3, 14, 23, 59, 40), "1000"),  # the baseline
            (local(2026, 3, 14, 23, 59, 50), "1100"),  # +100.000 t on 14 March
            (local(2026, 3, 15, 0, 0, 10), "1200"),  # +100.000 t on 15 March
        ],
    )
    # 14 March: 100 × (1 − 0.045) = 95.5 t raw; 15 March: 100 × (1 − 0.06) = 94.0 t raw
    days = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            **{"from": "2026-03-14T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"},
        )
    )["items"]
    assert [(d["start"][:10], D(d["gross_t"]), D(d["raw_t"])) for d in days] == [
        ("2026-03-14", D(100), D("95.5")),
        ("2026-03-15", D(100), D(94)),
    ]
    # the hours either side of midnight, each at its own day's coefficient
    hours = w.ok(
        w.get(
            "/mines/M1/production",
            period="hour",
            **{"from": "2026-03-14T23:00:00+08:00", "to": "2026-03-15T01:00:00+08:00"},
        )
    )["items"]
    assert [D(h["raw_t"]) for h in hours] == [D("95.5"), D(94)]
    # the summary on 15 March at 12:00 (the clock): the day is 15 March only, the month and
    # the year hold both days: 95.5 + 94.0 = 189.5 t raw, 200 t gross
    s = summary(w)
    assert (D(s["day"]["gross_t"]), D(s["day"]["raw_t"])) == (D(100), D(94))
    assert (D(s["month"]["gross_t"]), D(s["month"]["raw_t"])) == (D(200), D("189.5"))
    assert (D(s["year"]["gross_t"]), D(s["year"]["raw_t"])) == (D(200), D("189.5"))
    # and the summary of 14 March just before midnight: 95.5 t raw that day
    before = summary(w, at=local(2026, 3, 14, 23, 59, 59).isoformat())
    assert (D(before["day"]["gross_t"]), D(before["day"]["raw_t"])) == (D(100), D("95.5"))


def test_the_org_table_reads_the_yardsticks_once_until_one_changes(database_url: str) -> None:
    """A province's table is asked for again and again; its yardsticks are read once and
    read again as soon as a capacity, a plan or a reduction changes."""
    with world(database_url) as w:
        w.ok(w.post("/orgs", {"code": "P", "name": "山西省", "kind": "province"}))
        w.ok(w.post("/orgs", {"code": "C1", "name": "阳城县", "kind": "county", "parent": "P"}))
        w.mine("M1", org="C1", capacity_t=330000, station="S1")
        w.mine("M2", org="C1", capacity_t=660000, station="S2")
        reads: list[str] = []

        def read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "capacities" in statement:
                reads.append(statement)

        engine = w.client.app.state.coalwatch.sessions.kw["bind"]  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", read)
        march = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00"}

        def table() -> tuple[list[tuple[Decimal, Any]], Decimal, int]:
            reads.clear()
            org = w.ok(w.get("/orgs/P/production", period="month", **march))
            rows = [(D(m["items"][0]["capacity_t"]), m["items"][0]["plan_t"]) for m in org["mines"]]
            return rows, D(org["items"][0]["capacity_t"]), len(reads)

        # M = A / 330 × 30: 330,000 → 30,000 t; 660,000 → 60,000 t
        assert table() == ([(D(30000), None), (D(60000), None)], D(90000), 1)
        assert table() == ([(D(30000), None), (D(60000), None)], D(90000), 0)
        # M2 approved at 990,000 t from 10 March: its month (capacity on the 15th) 90,000 t
        w.ok(
            w.put(
                "/mines/M2/capacity", {"annual_capacity_t": 990000, "effective_from": "2026-03-10"}
            )
        )
        assert table() == ([(D(30000), None), (D(90000), None)], D(120000), 1)
        # a month plan of 20,000 t for M1 is its plan at once
        w.ok(w.put("/mines/M1/plans/2026-03", {"month_t": 20000}))
        rows, _, count = table()
        assert (D(rows[0][1]), count) == (D(20000), 1)
        # M1 reduced by 33,000 t from 10 March (written by another engine of the process):
        # A = 297,000 t, M = 297,000 / 330 × 30 = 27,000 t
        reduce(w, "M1", Fraction(33000), date(2026, 3, 10))
        rows, total, count = table()
        assert (rows[0][0], total, count) == (D(27000), D(117000), 1)
        # a new mine of the province is in the next table: M3, 330,000 t → 30,000 t
        w.mine("M3", org="C1", capacity_t=330000, station="S3")
        rows, total, _ = table()
        assert (len(rows), rows[2][0], total) == (3, D(30000), D(147000))
