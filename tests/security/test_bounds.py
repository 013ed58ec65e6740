"""Hard bounds of every figure (domain/limits.py), at their limits, on SQLite and PostgreSQL:
what a sender can put in cannot overflow a column or a sum, and a record beyond a bound
is quarantined with its reason (a 200 to the station, never a 500 it would retry).

Times: the clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coalwatch.domain.alarms import LEGAL_LIMITS, THRESHOLD_LIMITS, THRESHOLD_NAMES
from tests.support.world import World, totalizer, trip, world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url) as w:
        w.mine("M1", belts=("B1",), trips=("K1",))  # K1 is a skip
        yield w


def readings(w: World, *taken: tuple[int, int, int | str]) -> dict[str, Any]:
    """Totalizer readings of B1 on 2026-03-15 at (hour, minute, total t), uploaded."""
    seqs = w.stations["S1"].seqs(len(taken))
    records = [
        totalizer(seq, local(2026, 3, 15, hour, minute), "B1", total)
        for seq, (hour, minute, total) in zip(seqs, taken, strict=True)
    ]
    return dict(w.ok(w.upload("S1", records)))


def summary(w: World) -> dict[str, Any]:
    response = w.get("/mines/M1/summary")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_trips_of_a_trillion_tonnes_are_quarantined_and_the_figures_stay_readable(
    w: World,
) -> None:
    # each within the 10^12 t any tonne figure may be; 10^15 kg each, 3 × 10^19 raw units
    st = w.stations["S1"]
    records = [trip(seq, local(2026, 3, 15, 11, 0), "K1", 10**12) for seq in st.seqs(3)]
    response = w.upload("S1", records)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["acked_seq"] == 3
    assert [r["seq"] for r in answer["rejected"]] == [1, 2, 3]
    assert "100 t" in answer["rejected"][0]["reason"]
    figures = summary(w)
    assert figures["year"]["gross_t"] == 0


def test_a_trip_at_its_kinds_limit_counts_and_one_kilogram_more_is_quarantined(w: World) -> None:
    st = w.stations["S1"]
    at = local(2026, 3, 15, 11, 0)
    first, second = st.seqs(2)
    answer = w.ok(w.upload("S1", [trip(first, at, "K1", 100), trip(second, at, "K1", "100.001")]))
    assert [r["seq"] for r in answer["rejected"]] == [second]
    assert "skip" in answer["rejected"][0]["reason"]
    # 100 t kept; 100.001 t quarantined
    assert Decimal(str(summary(w)["day"]["gross_t"])) == Decimal(100)
    quarantined = w.ok(w.get("/mines/M1/quarantine"))["items"]
    assert [q["seq"] for q in quarantined] == [second]


def test_a_mines_hour_holds_the_hourly_limit_and_not_a_kilogram_more(w: World) -> None:
    st = w.stations["S1"]
    answer = readings(
        w,
        (10, 0, 0),
        # +200,000 t in the hour from 10:00: exactly the limit of an hour of a mine
        (10, 30, 200_000),
        # +0.001 t more in the same hour: above it, kept out (seq 3)
        (10, 40, "200000.001"),
        # counted from the last reading kept (200,000 t): +5 t in the hour from 11:00
        (11, 5, 200_005),
    )
    assert [r["seq"] for r in answer["rejected"]] == [3]
    assert "200000 t" in answer["rejected"][0]["reason"]
    # 200,000 + 5 = 200,005 t today
    assert Decimal(str(summary(w)["day"]["gross_t"])) == Decimal(200_005)
    # a trip in the full hour is kept out too; one in the next hour counts
    t1, t2 = st.seqs(2)
    answer = w.ok(
        w.upload(
            "S1",
            [
                trip(t1, local(2026, 3, 15, 10, 50), "K1", 1),
                trip(t2, local(2026, 3, 15, 11, 50), "K1", 1),
            ],
        )
    )
    assert [r["seq"] for r in answer["rejected"]] == [t1]
    assert Decimal(str(summary(w)["day"]["gross_t"])) == Decimal(200_006)


def test_a_late_reading_that_would_overfill_an_hour_through_the_recount_is_kept_out(
    w: World,
) -> None:
    st = w.stations["S1"]
    s1, s2, s3 = st.seqs(3)
    # 1,000,000 t, then 1,000,001 t: the baseline, then +1 t at 10:30
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(s1, local(2026, 3, 15, 10, 0), "B1", 1_000_000),
                totalizer(s3, local(2026, 3, 15, 10, 30), "B1", 1_000_001),
            ],
        )
    )
    # s2 arrives late at 0 t (a reset: +0 t); s3 would be recounted from it: +1,000,001 t
    answer = w.ok(w.upload("S1", [totalizer(s2, local(2026, 3, 15, 10, 10), "B1", 0)]))
    assert [r["seq"] for r in answer["rejected"]] == [s2]
    assert Decimal(str(summary(w)["day"]["gross_t"])) == Decimal(1)


def test_manual_production_holds_the_hourly_limit(w: World) -> None:
    body = {
        "point": "B1",
        "start": local(2026, 3, 15, 9, 0).isoformat(),
        "end": local(2026, 3, 15, 10, 0).isoformat(),
        "gross_t": 200_000,
        "reason": "称重系统停用",
    }
    w.ok(w.post("/mines/M1/manual-production", body))
    more = w.post("/mines/M1/manual-production", {**body, "gross_t": "0.001"})
    assert more.status_code == 422, more.text
    assert "200000 t" in more.json()["error"]["message"]
    long = w.post(
        "/mines/M1/manual-production",
        {**body, "start": local(2025, 1, 1, 0, 0).isoformat(), "gross_t": 1},
    )
    assert long.status_code == 422, long.text


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/mines/M1/capacity", "annual_capacity_t", {"effective_from": "2026-01-01"}),
        ("/mines/M1/plans/2026-03", "month_t", {}),
    ],
)
def test_capacities_and_plans_go_up_to_a_billion_tonnes(
    w: World, path: str, field: str, body: dict[str, Any]
) -> None:
    assert w.put(path, {**body, field: 10**9}).status_code == 200
    refused = w.put(path, {**body, field: "1000000000.001"})
    assert refused.status_code == 422, refused.text
    refused = w.put(path, {**body, field: 10**12})
    assert refused.status_code == 422, refused.text


def test_the_year_of_a_mine_at_the_hourly_limit_is_summed(w: World) -> None:
    # two hours at the limit, 2 × 200,000 = 400,000 t, and the year's sum is read back
    readings(w, (9, 0, 0), (9, 30, 200_000), (10, 30, 400_000))
    figures = summary(w)
    assert Decimal(str(figures["year"]["gross_t"])) == Decimal(400_000)
    response = w.get(
        "/mines/M1/production",
        period="year",
        **{"from": "1970-01-01T00:00:00+08:00", "to": "2199-12-31T00:00:00+08:00"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", THRESHOLD_NAMES)
def test_every_threshold_has_a_limit(w: World, name: str) -> None:
    # a legal limit goes no higher than the rulebook's value (test_legal_limits.py)
    limit = LEGAL_LIMITS.get(name, THRESHOLD_LIMITS[name])
    at_limit = w.put("/mines/M1/thresholds", {"name": name, "value": limit})
    assert at_limit.status_code == 200, at_limit.text
    for value in (limit + 1, 2**40, 2**63):
        refused = w.put("/mines/M1/thresholds", {"name": name, "value": value})
        assert refused.status_code == 422, (value, refused.text)
    w.tick()  # the timed rules run with the limit in force


def test_thresholds_of_2_40_and_2_63_are_refused(database_url: str) -> None:
    with world(database_url) as w:
        w.mine("M1")
        for value in (2**40, 2**63):
            refused = w.put("/mines/M1/thresholds", {"name": "no_data_minutes", "value": value})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "invalid"


def test_a_points_settings_are_bounded_as_the_thresholds_they_are(w: World) -> None:
    point = {"name": "K", "kind": "truck"}
    # the heaviest trip (a truck's 500 t); a day at 200,000 t an hour: 4,800,000 t
    w.ok(w.post("/mines/M1/points", {**point, "code": "K2", "min_trip_t": 500}))
    window = {"window_min": 1440, "window_min_t": 4_800_000}
    w.ok(w.post("/mines/M1/points", {**point, "code": "K3", **window}))
    for body in ({"min_trip_t": "500.001"}, {**window, "window_min_t": "4800000.001"}):
        refused = w.post("/mines/M1/points", {**point, "code": "K4", **body})
        assert refused.status_code == 422, refused.text


def test_texts_no_database_stores_are_quarantined_not_a_500(w: World) -> None:
    ts = local(2026, 3, 15, 11, 0).isoformat()
    s1, s2, s3 = w.stations["S1"].seqs(3)
    event = {"ts": ts, "type": "event", "event": "power_on"}
    records = [
        {"seq": s1, **event, "detail": "a\x00b"},  # PostgreSQL's text holds no NUL
        {"seq": s2, **event, "detail": "a\ud800b"},  # a lone surrogate: no UTF-8 for it
        {"seq": s3, "ts": ts, "type": "trip", "point": "\ud800", "net_t": 1},
    ]
    batch = {"station": "S1", "sent_at": w.clock().isoformat(), "records": records}
    response = w.upload("S1", [], body=json.dumps(batch).encode())  # JSON escapes both
    assert response.status_code == 200, response.text
    assert [r["seq"] for r in response.json()["rejected"]] == [s1, s2, s3]
    assert len(w.ok(w.get("/mines/M1/quarantine"))["items"]) == 3
