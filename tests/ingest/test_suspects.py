"""Plausibility before production: an increment that cannot be true is held as suspect
(stored, not counted, alarmed) until a supervising user confirms or rejects it.

Clock: 2026-03-15 12:00 Asia/Shanghai; readings at 10:00 local. Mine M1 (county C1,
A = 330,000 t: H = 330,000 / 330 / 16 = 62.5 t) with belts B1 (no maximum flow: the
ceiling is the mine's hourly limit, 200,000 t/h, over at least an hour) and B2
(maximum flow 1,000 t/h), both wrapping at 4,294,967.296 t.

What an interval of s seconds can carry at a flow of F t/h, in kg:
F × 1,000 × (s + 2) / 3,600 × 1.5 (rounded up) + 1,000: 2 s for how far a time stamp may
be from the read, one tonne for the totalizer's resolution.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import OPERATOR
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import RoleIn
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "Coalwatch2026"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.mine("M1", belts=("B1",), rollover_t="4294967.296")
        yield w


def add_b2(w: World) -> None:
    """Belt B2, whose maximum flow is configured: 1,000 t/h."""
    w.ok(
        w.post(
            "/mines/M1/points",
            {
                "code": "B2",
                "name": "B2 皮带秤",
                "kind": "belt",
                "rollover_t": "4294967.296",
                "max_flow_tph": "1000",
            },
        )
    )


def reading(point: str, second: int, total: str, flow: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": 0,
        "ts": local(2026, 3, 15, 10, 0, second),
        "type": "totalizer",
        "point": point,
        "total_t": Decimal(total),
    }
    if flow is not None:
        record["flow_tph"] = Decimal(flow)
    return record


def send(w: World, *records: dict[str, Any]) -> dict[str, Any]:
    seqs = w.stations["S1"].seqs(len(records))
    answer: dict[str, Any] = w.ok(
        w.upload("S1", [dict(r, seq=s) for r, s in zip(records, seqs, strict=True)])
    )
    return answer


def hour_t(w: World, point: str) -> Decimal:
    """Production of the point in the hour from 10:00 local."""
    items = w.ok(
        w.get(
            "/mines/M1/production",
            period="hour",
            point=point,
            **{
                "from": local(2026, 3, 15, 10, 0).isoformat(),
                "to": local(2026, 3, 15, 11, 0).isoformat(),
            },
        )
    )["items"]
    return sum((Decimal(str(i["gross_t"])) for i in items), Decimal(0))


def suspects(w: World, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = w.ok(w.get("/mines/M1/suspects", **params))["items"]
    return items


def metering(w: World) -> list[dict[str, Any]]:
    return w.alarms(type="metering_anomaly")


def county_user(w: World, username: str, permissions: list[str]) -> TestClient:
    """A user of county C1 with a custom role, signed in on a client of their own."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        users.create_role(
            session,
            OPERATOR,
            RoleIn(code=f"role_{username}", name=f"角色 {username}", permissions=permissions),
            w.clock(),
        )
    engine.dispose()
    w.users([(username, "C1", [f"role_{username}"])], PASSWORD, ready=True)
    client = TestClient(w.client.app)
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    return client


def decide(client: TestClient, suspect_id: int, action: str, reason: str) -> Any:
    page = client.get("/alarms/suspects?mine=M1")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text[:300]
    return client.post(
        f"/alarms/suspects/{suspect_id}/{action}?mine=M1",
        data={"reason": reason, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )


def audit_actions(w: World) -> list[tuple[str, str]]:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        found = [
            (e.actor, e.action)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            if e.action.startswith("suspect.")
        ]
    engine.dispose()
    return found


def test_a_reset_taken_for_a_rollover_is_held_and_rejected(w: World) -> None:
    # 3,000,000 t → 0.250 t in 2 s: the drop (2,999,999.75 t) exceeds half the wrap value,
    # so it reads as a rollover of 4,294,967.296 − 3,000,000 + 0.250 = 1,294,967.546 t.
    # B1 without a maximum flow: at most 200,000 t/h over at least an hour,
    # 200,000,000 × 3,602 / 3,600 × 1.5 = 300,166,666.67 → 300,166,667 + 1,000 =
    # 300,167,667 kg: held
    send(w, reading("B1", 0, "3000000", "600"), reading("B1", 2, "0.250", "600"))
    # 0.250 → 0.500 t in 2 s at 600 t/h (at most 600,000 × 4 / 3,600 × 1.5 + 1,000 =
    # 2,000 kg): counted from the held reading
    send(w, reading("B1", 4, "0.500", "600"))
    assert hour_t(w, "B1") == Decimal("0.250")
    assert w.alarms(type="overproduction_hour") == []
    assert w.alarms(type="serious_overproduction") == []
    [held] = suspects(w)
    assert (held["point"], held["kind"], held["reason"], held["status"]) == (
        "B1",
        "rollover",
        "max_flow",
        "held",
    )
    assert Decimal(str(held["increment_t"])) == Decimal("1294967.546")
    assert Decimal(str(held["limit_t"])) == Decimal("300167.667")
    [alarm] = metering(w)
    assert (alarm["value"], alarm["threshold"], alarm["end"]) == (
        "1294967.546",
        "300167.667",
        None,
    )
    assert alarm["params"] == {
        "code": "suspect_increment",
        "kind": "rollover",
        "why": "max_flow",
        "old": "3000000.000",
        "new": "0.250",
        "increment": "1294967.546",
        "limit": "300167.667",
        "seconds": "2",
    }
    county = county_user(w, "county_confirm", ["alarm:view", "region:confirm"])
    answer = decide(county, held["id"], "reject", "清零误判为溢出")
    assert answer.status_code == 303, answer.text
    [rejected] = suspects(w)
    assert (rejected["status"], rejected["decided_by"], rejected["decision_reason"]) == (
        "rejected",
        "county_confirm",
        "清零误判为溢出",
    )
    assert metering(w)[0]["end"] is not None
    assert hour_t(w, "B1") == Decimal("0.250")
    assert audit_actions(w) == [("county_confirm", "suspect.reject")]


def test_an_instrument_restarted_at_a_non_zero_total_is_held_and_confirmed(w: World) -> None:
    add_b2(w)
    # inside an approved maintenance permit the same rule holds
    w.ok(
        w.post(
            "/mines/M1/permits",
            {
                "point": "B2",
                "start": local(2026, 3, 15, 9, 0).isoformat(),
                "end": local(2026, 3, 15, 11, 0).isoformat(),
                "reason": "更换积算器",
            },
        )
    )
    send(
        w,
        reading("B2", 0, "5000"),
        reading("B2", 3, "5000.500"),  # +500 kg
        reading("B2", 6, "1234"),  # a "reset" of 1,234.000 t in 3 s
        reading("B2", 9, "1234.250"),  # +250 kg
    )
    # B2 carries 1,000 t/h: 1,000,000 × 5 / 3,600 × 1.5 = 2,083.33 → 2,084 + 1,000 =
    # 3,084 kg in 3 s
    assert hour_t(w, "B2") == Decimal("0.750")
    [held] = suspects(w, status="held")
    assert (held["kind"], held["reason"]) == ("reset", "max_flow")
    assert Decimal(str(held["increment_t"])) == Decimal("1234")
    assert Decimal(str(held["limit_t"])) == Decimal("3.084")
    # who may decide: a county user holding region:confirm, not one without it
    viewer = county_user(w, "county_viewer", ["alarm:view"])
    assert decide(viewer, held["id"], "confirm", "").status_code == 403
    county = county_user(w, "county_confirm", ["alarm:view", "region:confirm"])
    assert decide(county, held["id"], "confirm", "积算器更换后核实").status_code == 303
    # counted in the hour of the reading: 0.500 + 0.250 + 1,234.000 = 1,234.750 t
    assert hour_t(w, "B2") == Decimal("1234.750")
    [confirmed] = suspects(w)
    assert confirmed["status"] == "confirmed"
    [record] = [
        r
        for r in w.ok(w.get("/mines/M1/records", type="totalizer", limit=100))["items"]
        if r["seq"] == held["seq"]
    ]
    assert (record["increment_kind"], Decimal(str(record["increment_t"]))) == (
        "confirmed",
        Decimal("1234"),
    )
    assert metering(w)[0]["end"] is not None
    assert audit_actions(w) == [("county_confirm", "suspect.confirm")]
    # decided once
    assert w.post(f"/suspects/{held['id']}/reject", {"reason": "x"}).status_code == 409


def test_a_totalizer_advance_the_flow_rate_cannot_explain_is_held(w: World) -> None:
    # a totalizer read in the wrong word order (CDAB) steps by 16,384 units
    send(
        w,
        reading("B1", 0, "100", "450"),
        # +16.384 t in 2 s at 450 t/h: at most 450,000 × 4 / 3,600 × 1.5 = 750 + 1,000 =
        # 1,750 kg (the hourly limit allows 300,167,667 kg): the flow rate says no
        reading("B1", 2, "116.384", "450"),
        # +16,384 t in 2 s: the same
        reading("B1", 4, "16500.384", "450"),
        reading("B1", 6, "16500.634", "450"),  # +250 kg: counted
    )
    assert hour_t(w, "B1") == Decimal("0.250")
    found = sorted((s["seq"], s["reason"], str(s["increment_t"])) for s in suspects(w))
    assert [(r, t) for _, r, t in found] == [("flow_rate", "16.384"), ("flow_rate", "16384")]
    assert sorted(a["threshold"] for a in metering(w)) == ["1.750", "1.750"]


def test_a_plausible_reset_still_counts_as_a_reset(w: World) -> None:
    # 1,000 t → 0.200 t in 2 s at 450 t/h: 200 kg ≤ 1,750 kg, a reset that is possible
    send(w, reading("B1", 0, "1000", "450"), reading("B1", 2, "0.200", "450"))
    assert hour_t(w, "B1") == Decimal("0.200")
    assert suspects(w) == [] and metering(w) == []
    assert [a["type"] for a in w.alarms(type="parameter_change")] == ["parameter_change"]


def test_a_flow_out_of_range_is_left_out_and_the_reading_counts(w: World) -> None:
    # an off-by-one address reads the flow as 4,294,967.295 t/h (> 1,000,000 t/h)
    bad = "4294967.295"
    send(w, reading("B1", 0, "100"), reading("B1", 2, "100.250", bad))
    send(w, reading("B1", 4, "100.500", bad))
    send(w, reading("B1", 6, "100.750", bad))
    # 0.250 × 3 = 0.750 t counted; nothing quarantined
    assert hour_t(w, "B1") == Decimal("0.750")
    assert w.ok(w.get("/mines/M1/quarantine"))["items"] == []
    # one invalid_data alarm for the condition, not one per batch
    [alarm] = w.alarms(type="invalid_data")
    assert (alarm["point"], alarm["value"], alarm["end"]) == ("B1", bad, None)
    send(w, reading("B1", 8, "101", "450"))
    assert w.alarms(type="invalid_data")[0]["end"] is not None
