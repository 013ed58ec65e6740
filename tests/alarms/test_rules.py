"""One scenario per alarm type, thresholds and figures worked out by hand.

Clock: 2026-03-15 12:00 Asia/Shanghai. Unless a test says otherwise the mine has
A = 3,300 t: D = 3,300 / 330 = 10 t, M = 10 × 30 = 300 t, H = 10 / 16 = 0.625 t,
and no coefficient (raw = gross).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.world import World, totalizer, trip, world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", capacity_t=3300, trips=("K1",))
        yield w


def send(w: World, *records: dict[str, Any]) -> dict[str, Any]:
    seqs = w.stations["S1"].seqs(len(records))
    batch = [dict(r, seq=s) for r, s in zip(records, seqs, strict=True)]
    answer: dict[str, Any] = w.ok(w.upload("S1", batch))
    return answer


def belt(ts: datetime, total: str) -> dict[str, Any]:
    return totalizer(0, ts, "B1", total)


def conveyor(ts: datetime, running: bool, point: str = "B1") -> dict[str, Any]:
    return {"seq": 0, "ts": ts, "type": "conveyor", "point": point, "running": running}


def event(ts: datetime, name: str, point: str | None = "B1") -> dict[str, Any]:
    return {"seq": 0, "ts": ts, "type": "event", "point": point, "event": name}


def of_type(w: World, type_: str) -> list[dict[str, Any]]:
    return w.alarms(type=type_)


def test_overproduction_hour_with_its_excess(database_url: str) -> None:
    # A = 330,000 t gives H = 62.5 t; 66.5 t raw in one hour: excess 4.0 t
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", capacity_t=330000)
        send(w, belt(local(2026, 3, 15, 10, 0), "100"), belt(local(2026, 3, 15, 10, 30), "162.5"))
        assert of_type(w, "overproduction_hour") == []  # exactly 62.5 t is not above H
        send(w, belt(local(2026, 3, 15, 10, 59), "166.5"))
        [alarm] = of_type(w, "overproduction_hour")
        assert (alarm["value"], alarm["threshold"]) == ("66.500", "62.500")
        # the API keeps the figures as data and a Chinese text; the pages compose it
        assert alarm["params"] == {"code": "excess", "excess": "4.000"}
        assert alarm["detail"] == "超产产量 4.000 t"
        assert alarm["start"] == "2026-03-15T02:00:00Z"  # 10:00 local
        # more production in the same hour does not raise it twice
        send(w, belt(local(2026, 3, 15, 10, 59, 30), "170"))
        assert len(of_type(w, "overproduction_hour")) == 1
        # the hour's condition ends with the hour
        w.tick()
        [alarm] = of_type(w, "overproduction_hour")
        assert alarm["end"] == "2026-03-15T03:00:00Z"


def test_overproduction_day_month_year(w: World) -> None:
    # D = 10 t: 10.001 t in a day is over; M = 300 t; A = 3,300 t
    send(w, belt(local(2026, 3, 14, 1, 0), "0"), belt(local(2026, 3, 14, 23, 0), "10"))
    assert of_type(w, "overproduction_day") == []
    send(w, belt(local(2026, 3, 14, 23, 30), "10.001"))
    [day] = of_type(w, "overproduction_day")
    assert (day["value"], day["threshold"]) == ("10.001", "10.000")
    send(w, belt(local(2026, 3, 15, 1, 0), "300.5"))  # month: 300.5 > 300
    [month] = of_type(w, "overproduction_month")
    assert (month["value"], month["threshold"]) == ("300.500", "300.000")
    assert of_type(w, "overproduction_year") == []
    send(w, belt(local(2026, 3, 15, 2, 0), "3300.25"))  # year: 3,300.25 > 3,300
    [year] = of_type(w, "overproduction_year")
    assert (year["value"], year["threshold"]) == ("3300.250", "3300.000")
    assert year["severity"] == "critical"


def test_serious_overproduction_by_the_monthly_110_percent_rule(w: World) -> None:
    # a March plan of 200 t: serious above 1.1 × 200 = 220 t
    w.ok(w.put("/mines/M1/plans/2026-03", {"month_t": 200}))
    send(w, belt(local(2026, 3, 2, 0, 0), "0"), belt(local(2026, 3, 2, 1, 0), "220"))
    assert of_type(w, "serious_overproduction") == []
    send(w, belt(local(2026, 3, 3, 1, 0), "220.001"))
    [alarm] = of_type(w, "serious_overproduction")
    assert (alarm["value"], alarm["threshold"]) == ("220.001", "220.000")


def test_serious_overproduction_by_m_without_a_plan_and_by_the_year(w: World) -> None:
    # no plan: 1.1 × M = 1.1 × 300 = 330 t
    send(w, belt(local(2026, 3, 2, 0, 0), "0"), belt(local(2026, 3, 2, 1, 0), "330.5"))
    [month] = of_type(w, "serious_overproduction")
    assert month["threshold"] == "330.000"
    # the year: above A = 3,300 t
    send(w, belt(local(2026, 3, 3, 1, 0), "3301"))
    both = of_type(w, "serious_overproduction")
    assert {a["threshold"] for a in both} == {"330.000", "3300.000"}


def test_sustained_overproduction_on_two_consecutive_days(w: World) -> None:
    # 1.1 × D = 11 t: 11.5 t on the 13th, 10.9 t on the 14th → not sustained
    send(
        w,
        belt(local(2026, 3, 13, 0, 30), "0"),
        belt(local(2026, 3, 13, 8, 0), "11.5"),
        belt(local(2026, 3, 14, 8, 0), "22.4"),
    )
    assert of_type(w, "sustained_overproduction_day") == []
    # 11.2 t on the 15th after 10.9 t: no; but 11.5 t then 11.2 t would be
    send(w, belt(local(2026, 3, 14, 9, 0), "22.6"))  # the 14th: 11.1 t > 11 t
    [alarm] = of_type(w, "sustained_overproduction_day")
    assert alarm["value"] == "11.500, 11.100" and alarm["threshold"] == "11.000"


def test_sustained_overproduction_in_two_consecutive_months(w: World) -> None:
    # 1.1 × M = 330 t: 331 t in February and 331 t in March
    send(
        w,
        belt(local(2026, 2, 1, 0, 30), "0"),
        belt(local(2026, 2, 20, 8, 0), "331"),
        belt(local(2026, 3, 5, 8, 0), "662"),
    )
    [alarm] = of_type(w, "sustained_overproduction_month")
    assert alarm["value"] == "331.000, 331.000" and alarm["threshold"] == "330.000"


def test_transport_anomaly_for_a_light_trip(w: World) -> None:
    w.ok(w.put("/mines/M1/thresholds", {"point": "K1", "name": "min_trip_kg", "value": 5000}))
    send(w, trip(0, local(2026, 3, 15, 10, 0), "K1", "5"))  # exactly 5 t: fine
    assert of_type(w, "transport_anomaly") == []
    send(w, trip(0, local(2026, 3, 15, 10, 5), "K1", "4.2"))
    [alarm] = of_type(w, "transport_anomaly")
    assert (alarm["point"], alarm["value"], alarm["threshold"]) == ("K1", "4.200", "5.000")


def test_transport_anomaly_for_a_belt_running_light_for_a_window(w: World) -> None:
    # W = 10 min, at least 2 t: from 10:00 to 10:10 the belt ran and carried 1.5 t
    w.ok(w.put("/mines/M1/thresholds", {"point": "B1", "name": "window_min", "value": 10}))
    w.ok(w.put("/mines/M1/thresholds", {"point": "B1", "name": "window_min_kg", "value": 2000}))
    send(w, conveyor(local(2026, 3, 15, 9, 59), True), belt(local(2026, 3, 15, 10, 0), "50"))
    send(w, belt(local(2026, 3, 15, 10, 5), "50.5"))
    assert of_type(w, "transport_anomaly") == []  # only 6 min of running so far
    send(w, belt(local(2026, 3, 15, 10, 10), "51.5"))
    [alarm] = of_type(w, "transport_anomaly")
    assert (alarm["value"], alarm["threshold"]) == ("1.500", "2.000")
    # a window with enough coal ends it
    send(w, belt(local(2026, 3, 15, 10, 20), "60"))
    assert of_type(w, "transport_anomaly")[0]["end"] is not None


def test_metering_anomaly_when_counting_with_the_conveyor_stopped(w: World) -> None:
    send(w, conveyor(local(2026, 3, 15, 10, 0), False), belt(local(2026, 3, 15, 10, 0), "50"))
    send(w, belt(local(2026, 3, 15, 10, 1), "50"))  # stopped, not counting: fine
    assert of_type(w, "metering_anomaly") == []
    send(w, belt(local(2026, 3, 15, 10, 2), "50.25"))
    [alarm] = of_type(w, "metering_anomaly")
    assert alarm["value"] == "0.250" and alarm["end"] is None
    send(w, conveyor(local(2026, 3, 15, 10, 3), True))
    assert of_type(w, "metering_anomaly")[0]["end"] == "2026-03-15T02:03:00Z"


@pytest.mark.parametrize("conveyor_first", [True, False], ids=["io-first", "integrator-first"])
def test_a_conveyor_stop_judged_over_the_interval_is_no_metering_anomaly(
    w: World, conveyor_first: bool
) -> None:
    # running since 10:00; at 10:02 the belt has carried 0.5 t and stands: both devices
    # read in one cycle at 10:02 (either order). The 0.5 t were carried in
    # (10:01, 10:02], while the conveyor ran: no anomaly
    send(w, conveyor(local(2026, 3, 15, 10, 0), True), belt(local(2026, 3, 15, 10, 0), "50"))
    send(w, belt(local(2026, 3, 15, 10, 1), "50.5"))
    stop = [conveyor(local(2026, 3, 15, 10, 2), False), belt(local(2026, 3, 15, 10, 2), "51")]
    send(w, *(stop if conveyor_first else stop[::-1]))
    assert of_type(w, "metering_anomaly") == []


@pytest.mark.parametrize("conveyor_first", [True, False], ids=["io-first", "integrator-first"])
def test_a_conveyor_start_read_after_the_scale_ends_the_metering_anomaly(
    w: World, conveyor_first: bool
) -> None:
    # stopped since 10:00; the scale's reading at 10:02:00 shows 0.5 t carried over
    # (10:01, 10:02] (stopped throughout as far as the records say), and the I/O module,
    # read 0.3 s later, says the conveyor runs: the alarm is raised and ends at 10:02:00.3
    send(w, conveyor(local(2026, 3, 15, 10, 0), False), belt(local(2026, 3, 15, 10, 0), "50"))
    send(w, belt(local(2026, 3, 15, 10, 1), "50"))
    start = conveyor(local(2026, 3, 15, 10, 2, 0) + timedelta(seconds=0.3), True)
    sample = belt(local(2026, 3, 15, 10, 2), "50.5")
    send(w, *((start, sample) if conveyor_first else (sample, start)))
    [alarm] = of_type(w, "metering_anomaly")
    assert alarm["start"] == "2026-03-15T02:02:00Z"
    assert alarm["end"] == "2026-03-15T02:02:00.300000Z"


def test_no_data_while_running(w: World) -> None:
    w.clock.now = local(2026, 3, 15, 11, 41)  # silence is measured from the receipt
    send(w, conveyor(local(2026, 3, 15, 11, 40), True), belt(local(2026, 3, 15, 11, 41), "1"))
    w.clock.now = local(2026, 3, 15, 11, 51)  # 10 min after the last sample: not yet over
    send(w, {"seq": 0, "ts": w.clock(), "type": "heartbeat"})  # the station itself talks
    w.tick()
    assert of_type(w, "no_data_while_running") == []
    w.clock.now = local(2026, 3, 15, 11, 51, 1)
    w.tick()
    [alarm] = of_type(w, "no_data_while_running")
    assert alarm["threshold"] == "10 min"
    [fault] = w.ok(w.get("/faults"))["items"]
    assert fault["kind"] == "no_data_while_running" and fault["recovered_at"] is None
    send(w, belt(local(2026, 3, 15, 11, 52), "2"))
    assert of_type(w, "no_data_while_running")[0]["end"] is not None
    assert w.ok(w.get("/faults"))["items"][0]["recovered_at"] == "2026-03-15T03:52:00Z"


def test_comm_interruption_after_three_silent_minutes(w: World) -> None:
    send(w, {"seq": 0, "ts": w.clock(), "type": "heartbeat"})
    w.clock.advance(minutes=3)
    w.tick()
    assert of_type(w, "comm_interruption") == []
    w.clock.advance(seconds=1)
    w.tick()
    [alarm] = of_type(w, "comm_interruption")
    assert alarm["threshold"] == "3 min" and alarm["start"] == "2026-03-15T04:03:00Z"
    # the instant as the duty operator reads the clock: the mine's minute
    assert alarm["detail"] == "主站 S1 自 2026-03-15 12:00 起无数据"
    w.tick()
    assert len(of_type(w, "comm_interruption")) == 1
    send(w, {"seq": 0, "ts": w.clock(), "type": "heartbeat"})
    assert of_type(w, "comm_interruption")[0]["end"] is not None


def test_enclosure_open_outside_a_permit_only(w: World) -> None:
    w.ok(
        w.post(
            "/mines/M1/permits",
            {
                "point": "B1",
                "start": local(2026, 3, 15, 9, 0).isoformat(),
                "end": local(2026, 3, 15, 10, 0).isoformat(),
                "reason": "月度检修",
            },
        )
    )
    send(w, event(local(2026, 3, 15, 9, 30), "enclosure_open"))
    send(w, event(local(2026, 3, 15, 9, 40), "enclosure_closed"))
    assert of_type(w, "enclosure_open") == []  # inside the permit: logged, not alarmed
    send(w, event(local(2026, 3, 15, 10, 0), "enclosure_open"))  # the window is [9:00, 10:00)
    [alarm] = of_type(w, "enclosure_open")
    assert alarm["end"] is None
    send(w, event(local(2026, 3, 15, 10, 5), "enclosure_closed"))
    assert of_type(w, "enclosure_open")[0]["end"] == "2026-03-15T02:05:00Z"
    # the events inside the permit are kept as records
    events = w.ok(w.get("/mines/M1/records", type="event"))["items"]
    assert [e["event"] for e in events][:2] == ["enclosure_open", "enclosure_closed"]


def test_parameter_change_outside_a_permit(w: World) -> None:
    w.ok(
        w.post(
            "/mines/M1/permits",
            {
                "start": local(2026, 3, 15, 9, 0).isoformat(),
                "end": local(2026, 3, 15, 10, 0).isoformat(),
                "reason": "调校",
            },
        )
    )
    send(w, event(local(2026, 3, 15, 9, 30), "parameter_change"))
    assert of_type(w, "parameter_change") == []
    send(w, event(local(2026, 3, 15, 10, 30), "parameter_change"))
    [alarm] = of_type(w, "parameter_change")
    assert alarm["end"] == alarm["start"]  # an instant: it ended as it happened


@pytest.mark.parametrize(
    ("raised", "ended", "type_"),
    [
        ("power_off", "power_on", "power_off"),
        ("device_fault", "device_ok", "device_fault"),
        ("camera_fault", "camera_ok", "camera_fault"),
    ],
)
def test_abnormality_events_open_and_recover_a_fault(
    w: World, raised: str, ended: str, type_: str
) -> None:
    send(w, event(local(2026, 3, 15, 10, 0), raised))
    [alarm] = of_type(w, type_)
    [fault] = w.ok(w.get("/faults"))["items"]
    assert fault["kind"] == type_ and fault["occurred_at"] == "2026-03-15T02:00:00Z"
    send(w, event(local(2026, 3, 15, 10, 20), ended))
    assert of_type(w, type_)[0]["end"] == "2026-03-15T02:20:00Z"
    assert w.ok(w.get("/faults"))["items"][0]["recovered_at"] == "2026-03-15T02:20:00Z"
    del alarm


def test_production_during_a_declared_shutdown(w: World) -> None:
    w.ok(
        w.post(
            "/mines/M1/shutdowns",
            {
                "start": local(2026, 3, 15, 8, 0).isoformat(),
                "end": local(2026, 3, 17, 8, 0).isoformat(),
                "reason": "停产检修",
            },
        )
    )
    send(w, belt(local(2026, 3, 15, 7, 0), "10"), belt(local(2026, 3, 15, 7, 59), "12"))
    assert of_type(w, "production_during_shutdown") == []
    send(w, belt(local(2026, 3, 15, 9, 0), "12.75"))
    [alarm] = of_type(w, "production_during_shutdown")
    assert alarm["value"] == "0.750"
    assert alarm["detail"] == "停产报备 2026-03-15 08:00 – 2026-03-17 08:00：停产检修"


def test_undeclared_shutdown_after_two_days_without_production(w: World) -> None:
    send(w, belt(local(2026, 3, 15, 9, 0), "1"), belt(local(2026, 3, 15, 9, 30), "5"))
    # last production in the 09:00 hour: silence counts from 10:00
    w.clock.now = local(2026, 3, 17, 9, 59)
    w.tick()
    assert of_type(w, "undeclared_shutdown") == []
    w.clock.now = local(2026, 3, 17, 10, 0)
    w.tick()
    [alarm] = of_type(w, "undeclared_shutdown")
    assert alarm["threshold"] == "2 d"
    assert alarm["detail"] == "自 2026-03-15 10:00 起无产量，未报备停产"
    send(w, belt(local(2026, 3, 17, 10, 0), "6"))
    assert of_type(w, "undeclared_shutdown")[0]["end"] is not None


def test_declared_shutdown_is_not_alarmed(w: World) -> None:
    send(w, belt(local(2026, 3, 15, 9, 0), "1"), belt(local(2026, 3, 15, 9, 30), "5"))
    w.ok(
        w.post(
            "/mines/M1/shutdowns",
            {
                "start": local(2026, 3, 15, 10, 0).isoformat(),
                "end": local(2026, 3, 20, 10, 0).isoformat(),
                "reason": "改造",
            },
        )
    )
    w.clock.now = local(2026, 3, 18, 0, 0)
    w.tick()
    assert of_type(w, "undeclared_shutdown") == []


def test_calibration_overdue_after_fifteen_days(w: World) -> None:
    # the point was created on 15 March: due by the 30th, overdue on the 31st
    w.clock.now = local(2026, 3, 30, 12, 0)
    w.tick()
    assert of_type(w, "calibration_overdue") == []
    w.clock.now = local(2026, 3, 31, 12, 0)
    w.tick()
    [alarm] = of_type(w, "calibration_overdue")
    assert (alarm["point"], alarm["value"], alarm["threshold"]) == ("B1", "16 d", "15 d")
    w.ok(w.post("/mines/M1/calibrations", {"point": "B1", "calibrated_on": "2026-03-31"}))
    w.tick()
    assert of_type(w, "calibration_overdue")[0]["end"] is not None


def test_fault_report_deadlines_warning_then_violation(w: World) -> None:
    fault = w.ok(
        w.post(
            "/mines/M1/faults",
            {
                "phenomenon": "皮带秤显示屏无显示",
                "occurred_at": local(2026, 3, 15, 10, 0).isoformat(),
            },
        )
    )
    w.clock.now = local(2026, 3, 15, 11, 0)  # exactly 1 h: not yet late
    w.tick()
    assert of_type(w, "fault_report_overdue") == []
    w.clock.now = local(2026, 3, 15, 11, 1)
    w.tick()
    [alarm] = of_type(w, "fault_report_overdue")
    assert (alarm["severity"], alarm["threshold"]) == ("warning", "60 min")
    assert alarm["params"]["lateness"] == "warning"
    w.clock.now = local(2026, 3, 15, 12, 1)
    w.tick()
    [alarm] = of_type(w, "fault_report_overdue")
    assert (alarm["severity"], alarm["threshold"]) == ("major", "120 min")
    # the detail escalates with the severity: past 2 h now
    assert alarm["params"]["lateness"] == "violation" and "超过 2 小时" in alarm["detail"]
    w.ok(w.post(f"/faults/{fault['id']}/report", {}))
    assert of_type(w, "fault_report_overdue")[0]["end"] == "2026-03-15T04:01:00Z"


def test_invalid_data_gap_and_skew_end_when_the_station_recovers(w: World) -> None:
    bad = {"seq": 1, "ts": w.clock(), "type": "bogus"}
    skipping = {"seq": 3, "ts": w.clock(), "type": "heartbeat"}
    w.ok(w.upload("S1", [bad, skipping], sent_at=w.clock() + timedelta(minutes=5)))
    assert {a["type"]: a["end"] for a in w.alarms()} == {
        "invalid_data": None,
        "sequence_gap": None,
        "clock_skew": None,
    }
    w.ok(w.upload("S1", [{"seq": 2, "ts": w.clock(), "type": "heartbeat"}]))
    assert all(a["end"] is not None for a in w.alarms())


def test_reset_raises_parameter_change_unless_permitted(w: World) -> None:
    send(w, belt(local(2026, 3, 15, 9, 0), "500"), belt(local(2026, 3, 15, 9, 5), "2"))
    [alarm] = of_type(w, "parameter_change")
    assert alarm["params"] == {"code": "reset", "old": "500.000", "new": "2.000"}


def test_a_reset_the_station_reports_is_alarmed_once(w: World) -> None:
    send(
        w,
        belt(local(2026, 3, 15, 9, 0), "500"),
        belt(local(2026, 3, 15, 9, 5), "2"),
        event(local(2026, 3, 15, 9, 5), "parameter_change"),
    )
    assert len(of_type(w, "parameter_change")) == 1


def test_a_mines_skew_threshold_overrides_the_deployments(w: World) -> None:
    w.ok(w.put("/mines/M1/thresholds", {"name": "clock_skew_seconds", "value": 300}))
    send(w, {"seq": 0, "ts": w.clock(), "type": "heartbeat"})
    w.ok(w.upload("S1", [], sent_at=w.clock() + timedelta(seconds=200)))
    assert of_type(w, "clock_skew") == []  # 200 s is within this mine's 300 s
    w.ok(w.upload("S1", [], sent_at=w.clock() + timedelta(seconds=301)))
    assert of_type(w, "clock_skew")[0]["threshold"] == "300 s"


def test_a_declaration_made_later_ends_the_undeclared_shutdown(w: World) -> None:
    send(w, belt(local(2026, 3, 15, 9, 0), "1"), belt(local(2026, 3, 15, 9, 30), "5"))
    w.clock.now = local(2026, 3, 17, 12, 0)
    w.tick()
    assert of_type(w, "undeclared_shutdown")[0]["end"] is None
    w.ok(
        w.post(
            "/mines/M1/shutdowns",
            {
                "start": local(2026, 3, 15, 10, 0).isoformat(),
                "end": local(2026, 3, 25, 0, 0).isoformat(),
                "reason": "补报停产",
            },
        )
    )
    w.tick()
    assert of_type(w, "undeclared_shutdown")[0]["end"] is not None


def test_comm_loss_fault_occurs_at_the_last_contact(w: World) -> None:
    send(w, {"seq": 0, "ts": w.clock(), "type": "heartbeat"})
    w.clock.advance(minutes=4)
    w.tick()
    [fault] = [f for f in w.ok(w.get("/faults"))["items"] if f["kind"] == "comm_interruption"]
    assert fault["occurred_at"] == "2026-03-15T04:00:00Z"  # the last batch, 12:00 local


def test_one_points_hours(w: World) -> None:
    # B1 carries 5 t in hour 10; the skip K1 a 9 t trip: the point filter keeps them apart
    send(w, belt(local(2026, 3, 15, 10, 0), "0"), belt(local(2026, 3, 15, 10, 30), "5"))
    send(w, trip(0, local(2026, 3, 15, 10, 40), "K1", "9"))
    span = {"from": local(2026, 3, 15, 10).isoformat(), "to": local(2026, 3, 15, 11).isoformat()}
    both = w.ok(w.get("/mines/M1/production", period="hour", **span))["items"][0]
    belt_only = w.ok(w.get("/mines/M1/production", period="hour", point="B1", **span))["items"][0]
    assert (both["gross_t"], belt_only["gross_t"]) == (14, 5)


def conveyor_reads(w: World) -> list[str]:
    """The statements reading conveyor records back, from now on (the list fills)."""
    from sqlalchemy import event

    read: list[str] = []
    engine = w.client.app.state.coalwatch.sessions.kw["bind"]  # type: ignore[attr-defined]

    def executing(*args: Any) -> None:
        if "records.running" in str(args[2]):
            read.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", executing)
    return read


def test_a_conveyor_stopped_before_the_interval_is_known_from_its_point(w: World) -> None:
    # stopped at 10:00; the reading at 10:02 counts 0.25 t over (10:01, 10:02]: the anomaly,
    # with no conveyor record read back (the point holds its conveyor's last record); a
    # start at 10:03 ends it, and the reading at 10:04, 0.5 t over (10:02, 10:04] with
    # the start inside, reads the records again: no new anomaly
    send(w, conveyor(local(2026, 3, 15, 10, 0), False), belt(local(2026, 3, 15, 10, 0), "50"))
    send(w, belt(local(2026, 3, 15, 10, 1), "50"))
    read = conveyor_reads(w)
    send(w, belt(local(2026, 3, 15, 10, 2), "50.25"))
    [alarm] = of_type(w, "metering_anomaly")
    assert (alarm["value"], alarm["start"]) == ("0.250", "2026-03-15T02:02:00Z")
    assert read == []
    send(w, conveyor(local(2026, 3, 15, 10, 3), True))
    send(w, belt(local(2026, 3, 15, 10, 4), "50.75"))
    [alarm] = of_type(w, "metering_anomaly")
    assert alarm["end"] == "2026-03-15T02:03:00Z"
    assert len(read) == 1


def test_metering_anomaly_found_behind_many_conveyor_records(w: World) -> None:
    # stopped at 09:00; then 70 conveyor records from 10:00 (more than one read returns):
    # the scale counting at 09:30 is still seen against the 09:00 stop
    send(w, conveyor(local(2026, 3, 15, 9, 0), False), belt(local(2026, 3, 15, 9, 0), "50"))
    toggles = [conveyor(local(2026, 3, 15, 10, i // 60, i % 60), True) for i in range(70)]
    send(
        w, belt(local(2026, 3, 15, 9, 30), "50.5"), *toggles, belt(local(2026, 3, 15, 10, 5), "51")
    )
    [alarm] = of_type(w, "metering_anomaly")
    assert alarm["start"] == "2026-03-15T01:30:00Z"


def test_metering_anomaly_of_each_belt_against_its_own_conveyor(database_url: str) -> None:
    # one batch, two belts counting (50 → 50.5 t: 0.5 t each, > 0): B1's conveyor stopped at
    # 09:00, B2's running since 09:00; the conveyor states of both are read together and
    # only B1 counts while stopped
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", capacity_t=3300, belts=("B1", "B2"))
        send(
            w,
            conveyor(local(2026, 3, 15, 9, 0), False, "B1"),
            conveyor(local(2026, 3, 15, 9, 0), True, "B2"),
            totalizer(0, local(2026, 3, 15, 9, 0), "B1", "50"),
            totalizer(0, local(2026, 3, 15, 9, 0), "B2", "50"),
        )
        send(
            w,
            totalizer(0, local(2026, 3, 15, 9, 30), "B1", "50.5"),
            totalizer(0, local(2026, 3, 15, 9, 30), "B2", "50.5"),
        )
        [alarm] = of_type(w, "metering_anomaly")
        assert (alarm["point"], alarm["start"]) == ("B1", "2026-03-15T01:30:00Z")
