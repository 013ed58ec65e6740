"""Alarm lifecycle, fault reduction, audited thresholds and the live event stream."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from coalwatch.audit.models import AuditEntry
from coalwatch.audit.service import verify
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", capacity_t=330000)
        yield w


def door(w: World, name: str, ts: datetime) -> None:
    seq = w.stations["S1"].seqs(1)[0]
    w.ok(w.upload("S1", [{"seq": seq, "ts": ts, "type": "event", "point": "B1", "event": name}]))


def test_acknowledged_then_handled_then_closed_when_the_condition_ends(w: World) -> None:
    door(w, "enclosure_open", local(2026, 3, 15, 11, 0))
    [alarm] = w.alarms()
    assert alarm["state"] == "active"
    r = w.post(f"/alarms/{alarm['id']}/handle", {"result": "x"})
    assert r.status_code == 409  # acknowledge first
    acked = w.ok(w.post(f"/alarms/{alarm['id']}/ack", {}))
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "token:test"
    assert acked["acknowledged_at"] == "2026-03-15T04:00:00Z"  # instants are written in UTC
    assert w.post(f"/alarms/{alarm['id']}/handle", {"result": "   "}).status_code == 422
    handled = w.ok(w.post(f"/alarms/{alarm['id']}/handle", {"result": "维护人员已关闭外壳"}))
    assert handled["state"] == "handled"  # the door is still open
    door(w, "enclosure_closed", local(2026, 3, 15, 11, 10))
    [closed] = w.alarms()
    assert closed["state"] == "closed" and closed["result"] == "维护人员已关闭外壳"


def test_an_alarm_whose_condition_ended_closes_when_handled(w: World) -> None:
    door(w, "enclosure_open", local(2026, 3, 15, 11, 0))
    door(w, "enclosure_closed", local(2026, 3, 15, 11, 1))
    [alarm] = w.alarms()
    w.ok(w.post(f"/alarms/{alarm['id']}/ack", {}))
    assert w.ok(w.post(f"/alarms/{alarm['id']}/handle", {"result": "ok"}))["state"] == "closed"
    assert w.post(f"/alarms/{alarm['id']}/ack", {}).status_code == 409


def test_a_read_token_cannot_acknowledge(w: World) -> None:
    door(w, "enclosure_open", local(2026, 3, 15, 11, 0))
    [alarm] = w.alarms()
    reader = w.token_for(None)
    assert w.post(f"/alarms/{alarm['id']}/ack", {}, token=reader).status_code == 403


def test_fault_unreported_at_two_hours_reduces_capacity_across_a_month_boundary(
    database_url: str,
) -> None:
    # A = 330,000 t: D = 1,000 t. Fault from 30 Jan to 2 Feb = 4 fault days (both ends
    # counted), never reported: reduction = 1,000 × 3 × 4 = 12,000 t, from the day its
    # 2 h deadline passed (31 Jan).
    with world(database_url, now=local(2026, 2, 3, 9, 0)) as w:
        w.mine("M1", capacity_t=330000)
        fault = w.ok(
            w.post(
                "/mines/M1/faults",
                {"phenomenon": "主站死机", "occurred_at": local(2026, 1, 30, 22, 0).isoformat()},
            )
        )
        closed = w.ok(
            w.post(
                f"/faults/{fault['id']}/close",
                {"result": "更换主站电源", "recovered_at": local(2026, 2, 2, 6, 0).isoformat()},
            )
        )
        assert Decimal(str(closed["reduction_t"])) == Decimal(12000)
        assert closed["report_lateness"] == "violation"
        s = w.ok(w.get("/mines/M1/summary"))
        # A = 318,000 t from 3 Feb: D = 318,000 / 330 = 963.6363… → 963.636
        assert Decimal(str(s["year"]["capacity_t"])) == Decimal(318000)
        assert Decimal(str(s["day"]["capacity_t"])) == Decimal("963.636")
        assert Decimal(str(s["year"]["approved_capacity_t"])) == Decimal(330000)
        [listed] = w.ok(w.get("/faults", mine="M1"))["items"]
        assert Decimal(str(listed["reduction_t"])) == Decimal(12000)


def test_fault_reported_in_time_reduces_nothing(w: World) -> None:
    fault = w.ok(
        w.post(
            "/mines/M1/faults",
            {"phenomenon": "通信中断", "occurred_at": local(2026, 3, 15, 11, 15).isoformat()},
        )
    )
    w.ok(w.post(f"/faults/{fault['id']}/report", {}))  # at 12:00, 45 min after
    closed = w.ok(w.post(f"/faults/{fault['id']}/close", {"result": "线路恢复"}))
    assert closed["reduction_t"] is None and closed["report_lateness"] is None


def test_threshold_changes_take_effect_and_are_audited(w: World) -> None:
    shown = w.ok(w.put("/mines/M1/thresholds", {"name": "no_data_minutes", "value": 5}))
    assert shown["values"]["no_data_minutes"] == 5
    assert w.put("/mines/M1/thresholds", {"name": "bogus", "value": 5}).status_code == 422
    seq = w.stations["S1"].seqs(2)
    w.clock.now = local(2026, 3, 15, 11, 54)  # received as taken: silence is the center's
    w.ok(
        w.upload(
            "S1",
            [
                {
                    "seq": seq[0],
                    "ts": local(2026, 3, 15, 11, 50),
                    "type": "conveyor",
                    "point": "B1",
                    "running": True,
                },
                {
                    "seq": seq[1],
                    "ts": local(2026, 3, 15, 11, 54),
                    "type": "totalizer",
                    "point": "B1",
                    "total_t": 1,
                },
            ],
        )
    )
    w.clock.now = local(2026, 3, 15, 11, 59)  # the station itself talks, the scale not
    w.ok(
        w.upload("S1", [{"seq": w.stations["S1"].seqs(1)[0], "ts": w.clock(), "type": "heartbeat"}])
    )
    w.clock.now = local(2026, 3, 15, 11, 59, 1)  # 5 min 1 s after the last sample came
    w.tick()
    assert [a["type"] for a in w.alarms()] == ["no_data_while_running"]
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "threshold.set")
        ).all()
        assert [json.loads(e.detail) for e in entries] == [{"after": 5, "before": None}]
        assert verify(session) is None
    engine.dispose()


def test_editing_the_audit_log_is_detected(w: World) -> None:
    w.ok(w.put("/mines/M1/thresholds", {"name": "no_data_minutes", "value": 5}))
    w.ok(w.put("/mines/M1/thresholds", {"name": "no_data_minutes", "value": 7}))
    engine = make_engine(w.url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        first = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
        assert first is not None
        session.execute(
            update(AuditEntry).where(AuditEntry.id == first.id).values(detail='{"after": 50}')
        )
    with transaction(sessions) as session:
        broken = verify(session)
        assert broken is not None and broken.entry_id == first.id and "edited" in broken.reason
    engine.dispose()


def test_event_stream_carries_alarm_transitions_within_the_tokens_scope(database_url: str) -> None:
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", org="C1", station="S1")
        w.mine("M2", org="C2", station="S2")
        c2 = w.token_for("C2")
        # EventSource's way: a ticket asked for with the token, never the token in the URL
        ticket = w.ok(w.client.post("/api/v1/events/tickets", headers=w.headers(c2)))["ticket"]
        received: list[str] = []

        def listen() -> None:
            query = {"ticket": ticket, "limit": 1}
            with w.client.stream("GET", "/api/v1/events", params=query) as r:
                for line in r.iter_lines():
                    received.append(line)

        listener = threading.Thread(target=listen)
        listener.start()
        for _ in range(100):  # wait until the stream is open
            if received:
                break
            threading.Event().wait(0.02)
        # M1 (county C1) is out of the token's scope; M2's alarm is the one delivered
        w.ok(
            w.upload(
                "S1",
                [{"seq": 1, "ts": w.clock(), "type": "event", "point": "B1", "event": "power_off"}],
            )
        )
        w.ok(
            w.upload(
                "S2",
                [{"seq": 1, "ts": w.clock(), "type": "event", "point": "B1", "event": "power_off"}],
            )
        )
        listener.join(timeout=10)
        assert not listener.is_alive()
        data = [json.loads(line[5:]) for line in received if line.startswith("data:")]
        assert [(d["mine"], d["type"], d["transition"]) for d in data] == [
            ("M2", "power_off", "raised")
        ]
        assert "event: alarm" in received


def manual(w: World) -> dict[str, Any]:
    [fault] = [f for f in w.ok(w.get("/faults"))["items"] if f["kind"] == "manual"]
    return fault


def test_fault_open_for_48_hours_is_escalated_once(w: World) -> None:
    fault = w.ok(
        w.post(
            "/mines/M1/faults",
            {"phenomenon": "称重传感器损坏", "occurred_at": local(2026, 3, 15, 10, 0).isoformat()},
        )
    )
    w.clock.now = local(2026, 3, 17, 10, 0)  # exactly 48 h: not yet
    w.tick()
    assert manual(w)["escalated_at"] is None
    w.clock.now = local(2026, 3, 17, 10, 1)
    w.tick()
    listed = manual(w)
    assert listed["id"] == fault["id"] and listed["escalated_at"] == "2026-03-17T02:01:00Z"
    w.clock.now = local(2026, 3, 17, 11, 0)
    w.tick()
    assert manual(w)["escalated_at"] == "2026-03-17T02:01:00Z"


def test_a_fault_closed_in_the_next_year_reduces_its_own_year(database_url: str) -> None:
    # fault 30–31 Dec 2026 (2 days), closed on 3 Jan 2027 without a report:
    # 1,000 × 3 × 2 = 6,000 t off 2026's A (from 31 Dec), 2027 untouched
    with world(database_url, now=local(2027, 1, 3, 9, 0)) as w:
        w.mine("M1", capacity_t=330000)
        fault = w.ok(
            w.post(
                "/mines/M1/faults",
                {"phenomenon": "主站断电", "occurred_at": local(2026, 12, 30, 8, 0).isoformat()},
            )
        )
        closed = w.ok(
            w.post(
                f"/faults/{fault['id']}/close",
                {"result": "恢复供电", "recovered_at": local(2026, 12, 31, 20, 0).isoformat()},
            )
        )
        assert Decimal(str(closed["reduction_t"])) == Decimal(6000)
        old_year = w.ok(w.get("/mines/M1/summary", at=local(2026, 12, 31, 23, 0).isoformat()))
        assert Decimal(str(old_year["year"]["capacity_t"])) == Decimal(324000)
        new_year = w.ok(w.get("/mines/M1/summary"))
        assert Decimal(str(new_year["year"]["capacity_t"])) == Decimal(330000)
