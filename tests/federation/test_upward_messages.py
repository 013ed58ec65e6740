"""Faults, capacity reductions, declarations and signed reports travel upward as
messages: the upstream mirrors a fault and times its report on arrival, takes the
downstream's reduction (and computes none of its own), and keeps a signed daily report
as received after checking its SHA-256 and signatures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from coalwatch.federation.queue import CONFIG, FAULT, REPORT
from tests.federation.conftest import T0
from tests.federation.test_forwarding import configure, figures, queued, register_downstream, send
from tests.support.world import World, world


def faults(w: World) -> dict[str, dict[str, Any]]:
    return {f["phenomenon"]: f for f in w.ok(w.get("/faults"))["items"]}


def capacity(w: World) -> Any:
    return w.ok(w.get("/mines"))["items"][0]["annual_capacity_t"]


def test_faults_and_reductions_travel_and_reports_count_from_arrival(
    down: World, upstream_url: str
) -> None:
    configure(down)
    late = down.ok(
        down.post(
            "/mines/M1/faults",
            {"phenomenon": "皮带秤无数据", "occurred_at": (T0 - timedelta(hours=3)).isoformat()},
        )
    )
    timely = down.ok(
        down.post(
            "/mines/M1/faults",
            {"phenomenon": "通讯中断", "occurred_at": (T0 - timedelta(minutes=30)).isoformat()},
        )
    )
    down.ok(down.post(f"/faults/{timely['id']}/report", {}))  # 30 min after: in time here
    closed = down.ok(down.post(f"/faults/{late['id']}/close", {"result": "换传感器"}))
    # not reported within 2 h: 核减 = A / 330 × 3 × fault days = 330000 / 330 × 3 × 1 = 3000 t
    assert Decimal(closed["reduction_t"]) == Decimal(3000)
    down.ok(down.put("/mines/M1/thresholds", {"name": "fault_report_warning_minutes", "value": 50}))
    down.ok(
        down.post(
            "/mines/M1/shutdowns",
            {
                "start": (T0 + timedelta(days=1)).isoformat(),
                "end": (T0 + timedelta(days=2)).isoformat(),
                "reason": "检修",
            },
        )
    )
    items = queued(down)
    kinds = [p["op"] if k == CONFIG else k for _, k, p in items]
    assert kinds[-6:] == [
        FAULT,  # opened
        FAULT,  # opened
        FAULT,  # reported
        FAULT,  # closed: unreported for 2 h, with its reduction (no configuration upward)
        "threshold.set",
        "shutdown.declare",
    ]
    arrival = T0 + timedelta(days=3)
    with world(upstream_url, arrival) as up:
        key = register_downstream(up)
        assert up.ok(send(up, key, items))["rejected"] == []
        there, here = faults(up), faults(down)
        assert here["通讯中断"]["report_lateness"] is None
        # the report arrived 3 days and 30 min after the fault: a violation at this level
        assert there["通讯中断"]["reported_at"] == arrival.isoformat().replace("+00:00", "Z")
        assert there["通讯中断"]["report_lateness"] == "violation"
        assert Decimal(there["皮带秤无数据"]["reduction_t"]) == Decimal(3000)
        assert there["皮带秤无数据"]["closed_at"] is not None
        assert capacity(up) == capacity(down)
        for period in ("day", "month"):
            assert figures(up, period) == figures(down, period)
        assert up.ok(up.get("/mines/M1/shutdowns"))["items"][0]["reason"] == "检修"
        assert up.ok(up.get("/mines/M1/thresholds"))["values"]["fault_report_warning_minutes"] == 50
        # one lifecycle, one place: the upstream cannot close a mirrored fault
        refused = up.post(f"/faults/{there['通讯中断']['id']}/close", {"result": "x"})
        assert refused.status_code == 409 and "mirrored" in refused.text
        # sent again after a lost answer: nothing changes
        assert up.ok(send(up, key, items))["duplicates"] == len(items)
        assert faults(up) == there and capacity(up) == capacity(down)


def sign_all(w: World, day: str) -> None:
    for role in ("duty_operator", "duty_mine_manager", "chief_engineer"):
        w.ok(w.post(f"/mines/M1/reports/daily/{day}/sign", {"role": role}))


def test_signed_reports_are_received_once_checked(down: World, upstream_url: str) -> None:
    configure(down)
    down.clock.advance(days=1)
    sign_all(down, "2026-03-15")
    down.ok(
        down.post(
            "/mines/M1/manual-production",
            {
                "point": "B1",
                "start": "2026-03-15T10:00:00+08:00",
                "end": "2026-03-15T11:00:00+08:00",
                "gross_t": 40,
                "reason": "补录",
            },
        )
    )
    down.ok(down.post("/mines/M1/reports/daily/2026-03-15/regenerate", {}))
    sign_all(down, "2026-03-15")  # revision 2
    items = queued(down)
    reports = [(s, p) for s, k, p in items if k == REPORT]
    assert [p["revision"] for _, p in reports] == [1, 2]
    altered = [
        (s, k, {**p, "content": p["content"].replace("M1", "M9")} if k == REPORT else p)
        for s, k, p in items
    ]
    with world(upstream_url, T0 + timedelta(days=2)) as up:
        key = register_downstream(up)
        answer = up.ok(send(up, key, altered[: reports[0][0]]))
        assert [r["reason"] for r in answer["rejected"]] == [
            "the report's content does not match its SHA-256"
        ]
        up.ok(send(up, key, [i for i in items if i[0] > reports[0][0]]))
        status = up.ok(up.get("/orgs/C1/report-status", day="2026-03-15"))["items"]
        assert [(s["mine"], s["revision"], s["state"]) for s in status] == [("M1", 2, "submitted")]
        assert status[0]["sha256"] == reports[1][1]["sha256"]
        assert status[0]["received_at"] is not None
