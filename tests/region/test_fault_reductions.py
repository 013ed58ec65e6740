"""Fault reporting the system can believe: the report time is the server's time of the
report act; a fault unreported past 2 h has its capacity reduction 核减 computed at once
as pending, growing with the fault until it is recovered, whether or not anyone closes
it; the supervising unit (``region:reduction``) confirms or waives it with a reason, the
mine's staff cannot. Both backends.

Mine M1 of company CO1 in county C1; A = 1,200,000 t. A write token scoped to CO1 is the
mine's own staff with every permission; the one scoped to C1 is the county office."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")

# reduction = A / 330 × 3 × fault days (both end dates counted), shown rounded half-up
# to 3 decimals (1 kg):
# 1 day:  1,200,000 / 330 × 3 × 1 = 3,600,000 / 330 = 10,909.0909… t → 10,909.091 t
ONE_DAY = Decimal("10909.091")
# 2 days: 1,200,000 / 330 × 3 × 2 = 7,200,000 / 330 = 21,818.1818… t → 21,818.182 t
TWO_DAYS = Decimal("21818.182")
# 3 days: 1,200,000 / 330 × 3 × 3 = 10,800,000 / 330 = 32,727.2727… t → 32,727.273 t
THREE_DAYS = Decimal("32727.273")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url, now=local(2026, 3, 15, 7, 57)) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "CO1", "name": "煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="CO1", capacity_t=1200000)
        yield w


def heartbeat(w: World) -> None:
    seq = w.stations["S1"].seqs(1)[0]
    w.ok(w.upload("S1", [{"seq": seq, "ts": w.clock(), "type": "heartbeat"}]))


def fault(w: World, fault_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in w.ok(w.get("/faults"))["items"] if f["id"] == fault_id)
    return found


def manual_fault(w: World, at: datetime) -> int:
    body = {"phenomenon": "皮带秤显示屏无显示", "occurred_at": at.isoformat()}
    fault_id: int = w.ok(w.post("/mines/M1/faults", body))["id"]
    return fault_id


def year_capacity(w: World) -> Decimal:
    return Decimal(str(w.ok(w.get("/mines/M1/summary"))["year"]["capacity_t"]))


def test_a_typed_report_time_is_refused(w: World) -> None:
    w.clock.now = local(2026, 3, 15, 12, 0)
    fault_id = manual_fault(w, local(2026, 3, 15, 8, 0))
    # 4 h late, "reported" 30 min after it began
    typed = w.post(
        f"/faults/{fault_id}/report", {"reported_at": local(2026, 3, 15, 8, 30).isoformat()}
    )
    assert typed.status_code == 422, typed.text
    assert "服务器" in typed.json()["error"]["message"]
    assert fault(w, fault_id)["reported_at"] is None
    reported = w.ok(w.post(f"/faults/{fault_id}/report", {}))
    assert reported["reported_at"] == "2026-03-15T04:00:00Z"  # the act's own time: 12:00
    assert reported["reported_via"] == "system"
    assert reported["report_lateness"] == "violation"
    # reported too late: the reduction is there at once (1 fault day so far)
    assert Decimal(str(reported["reduction_t"])) == ONE_DAY
    assert reported["reduction_status"] == "pending"


def test_the_pending_reduction_grows_until_recovery_without_anyone_closing(w: World) -> None:
    heartbeat(w)  # 07:57: the station's last contact
    w.clock.now = local(2026, 3, 15, 8, 1)
    w.tick()  # silent for 3 min: 通信中断 opens a fault that occurred at 07:57
    [opened] = w.ok(w.get("/faults"))["items"]
    assert opened["kind"] == "comm_interruption" and opened["reduction_t"] is None
    w.clock.now = local(2026, 3, 15, 9, 57)  # exactly 2 h: not yet
    w.tick()
    assert fault(w, opened["id"])["reduction_t"] is None
    w.clock.now = local(2026, 3, 15, 9, 58)
    w.tick()
    pending = fault(w, opened["id"])
    assert Decimal(str(pending["reduction_t"])) == ONE_DAY
    assert pending["reduction_status"] == "pending"
    # the pending reduction lowers A at once: 1,200,000 − 10,909.0909… = 1,189,090.909
    assert year_capacity(w) == Decimal("1189090.909")
    w.clock.now = local(2026, 3, 16, 9, 0)
    w.tick()
    assert Decimal(str(fault(w, opened["id"])["reduction_t"])) == TWO_DAYS
    w.clock.now = local(2026, 3, 17, 0, 30)
    w.tick()
    assert Decimal(str(fault(w, opened["id"])["reduction_t"])) == THREE_DAYS
    heartbeat(w)  # the station is back on 17 Mar: the fault recovered, 15–17 Mar
    w.clock.now = local(2026, 3, 17, 0, 31)
    w.tick()
    final = fault(w, opened["id"])
    assert final["closed_at"] is None and final["recovered_at"] == "2026-03-16T16:30:00Z"
    assert Decimal(str(final["reduction_t"])) == THREE_DAYS
    # 1,200,000 − 32,727.2727… = 1,167,272.727
    assert year_capacity(w) == Decimal("1167272.727")
    w.clock.now = local(2026, 3, 19, 9, 0)  # silent again since 00:30 on 17 Mar
    w.tick()
    assert Decimal(str(fault(w, opened["id"])["reduction_t"])) == THREE_DAYS  # grows no more
    [second] = [f for f in w.ok(w.get("/faults"))["items"] if f["id"] != opened["id"]]
    # the new interruption, unreported, 17–19 Mar: 3 fault days as well
    assert Decimal(str(second["reduction_t"])) == THREE_DAYS


def test_the_county_confirms_or_waives_and_the_mine_cannot(w: World) -> None:
    w.clock.now = local(2026, 3, 15, 12, 0)
    first = manual_fault(w, local(2026, 3, 15, 8, 0))
    second = manual_fault(w, local(2026, 3, 15, 9, 0))
    w.tick()
    mine = w.token_for("CO1", write=True)
    county = w.token_for("C1", write=True)
    body = {"decision": "waive", "reason": "不可抗力：雷击停电"}
    refused = w.post(f"/faults/{first}/reduction", body, token=mine)
    assert refused.status_code == 403, refused.text
    assert "region:reduction" in refused.text
    assert fault(w, first)["reduction_status"] == "pending"
    no_reason = w.post(f"/faults/{first}/reduction", {"decision": "waive"}, token=county)
    assert no_reason.status_code == 422
    waived = w.ok(w.post(f"/faults/{first}/reduction", body, token=county))
    assert waived["reduction_status"] == "waived" and waived["reduction_reason"] == body["reason"]
    assert waived["reduction_decided_by"] == "token:test"
    again = w.post(f"/faults/{first}/reduction", {"decision": "confirm", "reason": "x"})
    assert again.status_code == 409
    confirmed = w.ok(
        w.post(
            f"/faults/{second}/reduction",
            {"decision": "confirm", "reason": "未按时上报"},
            token=county,
        )
    )
    assert confirmed["reduction_status"] == "confirmed"
    # station S1, registered at 07:57, was never heard: its 通信中断 fault is pending too
    [silent] = [f for f in w.ok(w.get("/faults"))["items"] if f["kind"] == "comm_interruption"]
    assert silent["reduction_status"] == "pending"
    # 2 counted (the confirmed and the pending one): 1,200,000 − 2 × 10,909.0909… =
    # 1,200,000 − 21,818.1818… = 1,178,181.818
    assert year_capacity(w) == Decimal("1178181.818")
    w.ok(w.post(f"/faults/{silent['id']}/reduction", body, token=county))
    # only the confirmed one counts: 1,200,000 − 10,909.0909… = 1,189,090.909
    assert year_capacity(w) == Decimal("1189090.909")
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(("reduction.waive", "reduction.confirm")))
            .order_by(AuditEntry.id)
        ).all()
        assert [(e.action, json.loads(e.detail)["reason"]) for e in entries] == [
            ("reduction.waive", "不可抗力：雷击停电"),
            ("reduction.confirm", "未按时上报"),
            ("reduction.waive", "不可抗力：雷击停电"),
        ]
    engine.dispose()


def test_a_phone_report_counts_once_the_county_confirms_it(w: World) -> None:
    w.clock.now = local(2026, 3, 15, 8, 30)
    kept = manual_fault(w, local(2026, 3, 15, 8, 0))
    denied = manual_fault(w, local(2026, 3, 15, 8, 10))
    mine = w.token_for("CO1", write=True)
    county = w.token_for("C1", write=True)
    for fault_id in (kept, denied):
        phoned = w.ok(
            w.post(f"/faults/{fault_id}/report", {"via": "phone", "note": "电话报县局值班室"}, mine)
        )
        assert phoned["reported_via"] == "phone" and phoned["report_confirmed_at"] is None
        assert phoned["reported_at"] == "2026-03-15T00:30:00Z"  # when it was recorded
    own = w.post(f"/faults/{kept}/report/confirm", {"accepted": True}, token=mine)
    assert own.status_code == 403
    w.clock.now = local(2026, 3, 15, 11, 0)
    ok = w.ok(w.post(f"/faults/{kept}/report/confirm", {"accepted": True}, token=county))
    assert ok["report_confirmed_by"] == "token:test" and ok["reduction_t"] is None
    no = w.ok(
        w.post(
            f"/faults/{denied}/report/confirm",
            {"accepted": False, "reason": "值班室未接到电话"},
            token=county,
        )
    )
    # unreported after all, 2 h 50 min after it began: the reduction is pending at once
    assert no["reported_at"] is None and no["report_lateness"] == "violation"
    assert Decimal(str(no["reduction_t"])) == ONE_DAY and no["reduction_status"] == "pending"
