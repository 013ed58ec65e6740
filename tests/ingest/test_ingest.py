"""Station ingest (contract.md, "Station upload"), on SQLite and PostgreSQL.

Times: the clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from coalwatch.storage.models import QuarantinedRecord, Record
from coalwatch.storage.session import make_engine
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, sign
from tests.support.world import World, totalizer, trip, world

SH = ZoneInfo("Asia/Shanghai")


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url) as w:
        w.mine("M1", belts=("B1",), trips=("K1",))
        yield w


def day_figure(w: World, mine: str = "M1", at: datetime | None = None) -> dict[str, Any]:
    params = {"at": at.isoformat()} if at else {}
    return w.ok(w.get(f"/mines/{mine}/summary", **params))["day"]


def hours(w: World, start: datetime, end: datetime) -> dict[str, Decimal]:
    items = w.ok(
        w.get(
            "/mines/M1/production",
            period="hour",
            **{"from": start.isoformat(), "to": end.isoformat()},
        )
    )["items"]
    return {item["start"][11:16]: Decimal(str(item["gross_t"])) for item in items}


def count(url: str, model: Any) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        n = connection.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(n)


# A belt stream: readings at 10:00, 10:30, 11:00, 11:59:59 local.
STREAM = [
    (local(2026, 3, 15, 10, 0, 0), "100.000"),  # baseline: nothing counted
    (local(2026, 3, 15, 10, 30, 0), "112.500"),  # +12.5 t in hour 10
    (local(2026, 3, 15, 11, 0, 0), "125.000"),  # +12.5 t in hour 11 (the later sample's hour)
    (local(2026, 3, 15, 11, 59, 59), "130.250"),  # +5.25 t in hour 11
]


def stream_records(seq0: int = 1) -> list[dict[str, Any]]:
    return [totalizer(seq0 + i, ts, "B1", total) for i, (ts, total) in enumerate(STREAM)]


def test_in_order_totalizer_counts_increments_in_the_later_samples_hour(w: World) -> None:
    answer = w.ok(w.upload("S1", stream_records()))
    fixed = {"acked_seq": 4, "duplicates": 0, "rejected": [], "gaps": [], "commands": []}
    assert {k: answer[k] for k in fixed} == fixed  # and the optional fields after them
    assert not any(p["on"] for p in answer["signals"]["points"]) and answer["config"] is None
    # hour 10: 12.5 t; hour 11: 12.5 + 5.25 = 17.75 t
    got = hours(w, local(2026, 3, 15, 10), local(2026, 3, 15, 12))
    assert got == {"10:00": Decimal("12.5"), "11:00": Decimal("17.75")}
    assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("30.25")


def test_duplicate_batch_changes_nothing(w: World) -> None:
    body = encode_batch("S1", w.clock(), stream_records())
    first = w.ok(w.upload("S1", [], body=body))
    before = day_figure(w)
    again = w.ok(w.upload("S1", [], body=body))
    assert again["acked_seq"] == first["acked_seq"] == 4
    assert again["duplicates"] == 4
    assert day_figure(w) == before
    assert count(w.url, Record) == 4


def test_shuffled_order_gives_the_same_figures(w: World) -> None:
    # 40 readings every 3 minutes from 10:00 local; true increments known by construction.
    rng = random.Random(7)
    start = local(2026, 3, 15, 10, 0)
    total = Decimal("5000.000")
    records = []
    expected: dict[str, Decimal] = {}
    for i in range(40):
        ts = start + timedelta(minutes=3 * i)
        if i:
            step = Decimal(rng.randint(0, 9000)) / 1000
            total += step
            key = ts.strftime("%H:00")
            expected[key] = expected.get(key, Decimal(0)) + step
        records.append(totalizer(i + 1, ts, "B1", total))
    rng.shuffle(records)
    # uploaded in batches of 7 in shuffled order: later samples often come first
    for i in range(0, len(records), 7):
        w.ok(w.upload("S1", records[i : i + 7]))
    got = hours(w, local(2026, 3, 15, 10), local(2026, 3, 15, 12))
    assert {k: v for k, v in got.items() if v} == expected
    assert Decimal(str(day_figure(w)["gross_t"])) == total - Decimal("5000.000")


def test_late_reading_between_two_stored_ones_splits_the_increment(w: World) -> None:
    # 10:50 → 100 t, 11:10 → 130 t: +30 t in hour 11. Then 10:59 → 120 t arrives late:
    # +20 t in hour 10, +10 t in hour 11.
    w.ok(w.upload("S1", [totalizer(1, local(2026, 3, 15, 10, 50), "B1", "100")]))
    w.ok(w.upload("S1", [totalizer(3, local(2026, 3, 15, 11, 10), "B1", "130")]))
    assert hours(w, local(2026, 3, 15, 10), local(2026, 3, 15, 12)) == {
        "10:00": Decimal(0),
        "11:00": Decimal(30),
    }
    answer = w.ok(w.upload("S1", [totalizer(2, local(2026, 3, 15, 10, 59), "B1", "120")]))
    assert answer["gaps"] == []
    assert hours(w, local(2026, 3, 15, 10), local(2026, 3, 15, 12)) == {
        "10:00": Decimal(20),
        "11:00": Decimal(10),
    }


def test_forged_signature_is_refused_and_stores_nothing(w: World) -> None:
    response = w.upload("S1", stream_records(), key=generate_private_key())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert count(w.url, Record) == 0
    assert Decimal(str(day_figure(w)["gross_t"])) == 0
    # the station's sequence state did not move either
    assert w.ok(w.get("/mines"))["items"][0]["stations"][0]["acked_seq"] == 0


def test_body_altered_after_signing_is_refused(w: World) -> None:
    body = encode_batch("S1", w.clock(), stream_records())
    good = sign(w.stations["S1"].key, body)
    tampered = body.replace(b"130.25", b"930.25")
    response = w.client.post(
        "/api/v1/stations/S1/batches", content=tampered, headers={"X-Signature": good}
    )
    assert response.status_code == 401
    assert count(w.url, Record) == 0


def test_unknown_station_and_missing_signature_are_401(w: World) -> None:
    body = encode_batch("S9", w.clock(), [])
    response = w.client.post(
        "/api/v1/stations/S9/batches", content=body, headers={"X-Signature": "AA=="}
    )
    assert response.status_code == 401
    assert "S9" in response.json()["error"]["message"]
    response = w.client.post(
        "/api/v1/stations/S1/batches", content=encode_batch("S1", w.clock(), [])
    )
    assert response.status_code == 401
    assert "X-Signature" in response.json()["error"]["message"]


def test_malformed_body_is_400_and_bad_envelope_422(w: World) -> None:
    response = w.upload("S1", [], body=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    response = w.upload("S1", [], body=b"[1, 2]")
    assert response.status_code == 400
    response = w.upload("S1", [], body=json.dumps({"station": "S1", "records": []}).encode())
    assert response.status_code == 422
    assert "sent_at" in response.json()["error"]["message"]
    response = w.upload("S1", [], body=encode_batch("S2", w.clock(), []))
    assert response.status_code == 422
    assert count(w.url, Record) == 0


def test_one_bad_record_is_quarantined_and_the_others_kept(w: World) -> None:
    records = stream_records()
    records[2]["total_t"] = Decimal("125.0005")  # finer than 1 kg: cannot be kept exactly
    answer = w.ok(w.upload("S1", records))
    assert answer["acked_seq"] == 4
    assert [r["seq"] for r in answer["rejected"]] == [3]
    assert "more than 3 decimals" in answer["rejected"][0]["reason"]
    # kept: 10:00 baseline, 10:30 +12.5 t, 11:59:59 +17.75 t (130.25 − 112.5)
    assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("30.25")
    assert count(w.url, Record) == 3
    assert count(w.url, QuarantinedRecord) == 1
    alarms = w.ok(w.get("/alarms", type="invalid_data"))["items"]
    assert len(alarms) == 1 and alarms[0]["mine"] == "M1" and alarms[0]["state"] == "active"
    # re-sending the quarantined seq is a duplicate: it is held (with its reason)
    again = w.ok(w.upload("S1", [records[2]]))
    assert again["duplicates"] == 1 and again["rejected"] == []


def test_records_that_break_the_rules_are_quarantined_with_their_reason(w: World) -> None:
    now = w.clock()
    records = [
        totalizer(1, now + timedelta(minutes=5), "B1", "1"),  # future beyond 60 s
        totalizer(2, now, "NOPE", "1"),  # unknown point
        trip(3, now, "B1", "8.5"),  # a belt does not make trips
        totalizer(4, now, "K1", "8.5"),  # a skip has no totalizer
        {"seq": 5, "ts": now, "type": "teleport"},
        {"seq": 6, "ts": now.replace(tzinfo=None), "type": "heartbeat"},
        {"ts": now, "type": "heartbeat"},  # no seq at all
        trip(7, now, "K1", "8.25"),  # fine
    ]
    answer = w.ok(w.upload("S1", records))
    reasons = {r["seq"]: r["reason"] for r in answer["rejected"]}
    # seq 1, dated in the future, is kept: at its receipt time, its own time beside it
    assert set(reasons) == {2, 3, 4, 5, 6, None}
    assert "NOPE" in reasons[2]
    assert "trips" in reasons[4] and "totalizer" in reasons[3]
    assert "teleport" in reasons[5]
    assert "timezone" in reasons[6]
    assert answer["acked_seq"] == 7
    assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("8.25")


def test_gaps_are_reported_and_filled_by_late_records(w: World) -> None:
    rec = stream_records()
    answer = w.ok(w.upload("S1", [rec[0], rec[3]]))  # seq 1 and 4
    assert answer["acked_seq"] == 4
    assert answer["gaps"] == [[2, 3]]
    assert [a["type"] for a in w.ok(w.get("/alarms"))["items"]] == ["sequence_gap"]
    answer = w.ok(w.upload("S1", [rec[2]]))
    assert answer["gaps"] == [[2, 2]]
    answer = w.ok(w.upload("S1", [rec[1]]))
    assert answer["gaps"] == []
    assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("30.25")


def test_clock_skew_is_alarmed_and_the_records_kept(w: World) -> None:
    answer = w.ok(w.upload("S1", stream_records(), sent_at=w.clock() + timedelta(seconds=61)))
    assert answer["commands"][0]["type"] == "time_check"
    alarms = w.ok(w.get("/alarms", type="clock_skew"))["items"]
    assert alarms[0]["value"] == "+61 s" and alarms[0]["threshold"] == "60 s"
    assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("30.25")
    # within 60 s: no command
    assert w.ok(w.upload("S1", [], sent_at=w.clock() - timedelta(seconds=60)))["commands"] == []


def test_reset_counts_the_new_reading_and_raises_parameter_change(w: World) -> None:
    # 500 t, then 4 t without a rollover value: a reset; increment = 4 t
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, local(2026, 3, 15, 10, 0), "B1", "500"),
                totalizer(2, local(2026, 3, 15, 10, 5), "B1", "4"),
                totalizer(3, local(2026, 3, 15, 10, 10), "B1", "6.5"),
            ],
        )
    )
    assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("6.5")  # 4 + 2.5
    alarms = w.ok(w.get("/alarms", type="parameter_change"))["items"]
    assert alarms[0]["point"] == "B1" and alarms[0]["params"]["code"] == "reset"


def test_rollover_counts_across_the_wrap(database_url: str) -> None:
    with world(database_url) as w:
        w.mine("M1", rollover_t="10000")
        # 9,990.5 t → 12.25 t with R = 10,000 t: drop 9,978.25 > R/2, a rollover:
        # increment = 10,000 − 9,990.5 + 12.25 = 21.75 t
        w.ok(
            w.upload(
                "S1",
                [
                    totalizer(1, local(2026, 3, 15, 10, 0), "B1", "9990.5"),
                    totalizer(2, local(2026, 3, 15, 10, 5), "B1", "12.25"),
                ],
            )
        )
        assert Decimal(str(day_figure(w)["gross_t"])) == Decimal("21.75")
        assert w.ok(w.get("/alarms"))["items"] == []


def test_day_boundary_in_shanghai(w: World) -> None:
    # 23:59:59 local on 14 March is 15:59:59 UTC on the 14th; 00:00:00 local on the
    # 15th is 16:00:00 UTC on the 14th: same UTC date, different local days.
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, local(2026, 3, 14, 23, 50, 0), "B1", "10"),
                totalizer(2, local(2026, 3, 14, 23, 59, 59), "B1", "13"),  # +3 t on the 14th
                totalizer(3, local(2026, 3, 15, 0, 0, 0), "B1", "13.5"),  # +0.5 t on the 15th
            ],
        )
    )
    days = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            **{"from": "2026-03-14T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"},
        )
    )["items"]
    assert [(d["start"], d["gross_t"]) for d in days] == [
        ("2026-03-14T00:00:00+08:00", 3),
        ("2026-03-15T00:00:00+08:00", 0.5),
    ]


def test_records_and_quarantine_can_be_read_back(w: World) -> None:
    records = stream_records()
    records.append(
        {"seq": 5, "ts": STREAM[0][0], "type": "event", "point": "B1", "event": "enclosure_open"}
    )
    records.append({"seq": 6, "ts": STREAM[0][0], "type": "event", "point": "B1", "event": "boom"})
    w.ok(w.upload("S1", records))
    kept = w.ok(w.get("/mines/M1/records", point="B1", type="totalizer"))["items"]
    # increments: baseline 0, then 12.5, 12.5, 5.25 t
    assert [(r["seq"], r["increment_t"], r["increment_kind"]) for r in kept] == [
        (1, 0, "baseline"),
        (2, 12.5, "normal"),
        (3, 12.5, "normal"),
        (4, 5.25, "normal"),
    ]
    events = w.ok(w.get("/mines/M1/records", type="event"))["items"]
    assert [(e["station"], e["event"]) for e in events] == [("S1", "enclosure_open")]
    quarantined = w.ok(w.get("/mines/M1/quarantine"))["items"]
    assert quarantined[0]["seq"] == 6 and "boom" in quarantined[0]["reason"]
    hours = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            point="B1",
            **{"from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"},
        )
    )["items"]
    assert D(hours[0]["gross_t"]) == D("30.25")
    assert (
        w.get(
            "/mines/M1/production",
            period="day",
            point="ZZ",
            **{"from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"},
        ).status_code
        == 404
    )


def test_gaps_the_station_cannot_fill_are_written_off(w: World) -> None:
    rec = stream_records()
    assert w.ok(w.upload("S1", [rec[0], rec[3]]))["gaps"] == [[2, 3]]
    reader = w.token_for(None)
    assert w.post("/stations/S1/gaps/write-off", {"reason": "x"}, token=reader).status_code == 403
    done = w.ok(w.post("/stations/S1/gaps/write-off", {"reason": "主站硬盘损坏，记录无法恢复"}))
    assert done["written_off"] == [[2, 3]]
    assert w.ok(w.upload("S1", []))["gaps"] == []
    assert w.alarms(type="sequence_gap")[0]["end"] is not None
    again = w.post("/stations/S1/gaps/write-off", {"reason": "again"})
    assert again.status_code == 409
