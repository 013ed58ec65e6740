"""法定时限: the rulebook's deadlines and windows are ceilings. A supervising unit (county,
city, province, with ``region:limits``) may shorten them for its subtree, never lengthen
them; a mine's own staff cannot change them at all; a mine's limit is the shortest along
its ancestors. Tried as a mine's staff would, on both backends.

The tree: province SX → city T1 → county C1 → company CO1 → mine M1. A write token
scoped to an org acts with every permission at that org: the company's token is the
mine's own administrator (``system:write``, even ``region:limits``), the county's and the
city's are the supervising units. Clock: 2026-03-15 12:00 Asia/Shanghai."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import Principal
from coalwatch.errors import Forbidden
from coalwatch.limits import service as limits
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")
VIOLATION = "fault_report_violation_minutes"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        w.ok(w.post("/orgs", {"code": "SX", "name": "山西省", "kind": "province"}))
        w.ok(w.post("/orgs", {"code": "T1", "name": "T1 市", "kind": "city", "parent": "SX"}))
        w.ok(w.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county", "parent": "T1"}))
        w.ok(w.post("/orgs", {"code": "CO1", "name": "煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="CO1", capacity_t=330000)
        yield w


def limit_of(w: World, name: str, token: str | None = None) -> dict[str, object]:
    items = w.ok(w.get("/mines/M1/limits", token=token))["items"]
    found: dict[str, object] = next(i for i in items if i["name"] == name)
    return found


def test_the_mines_own_administrator_cannot_loosen_or_change_a_limit(w: World) -> None:
    mine = w.token_for("CO1", write=True)
    # today: any system:write user could stretch the 2 h deadline to 10 h
    loosened = w.put("/mines/M1/thresholds", {"name": VIOLATION, "value": 600}, token=mine)
    assert loosened.status_code == 403, loosened.text
    assert "region:limits" in loosened.text
    # not even tighten it: the mine is judged by it, it does not set it
    tightened = w.put("/mines/M1/thresholds", {"name": VIOLATION, "value": 90}, token=mine)
    assert tightened.status_code == 403
    at_company = w.put(f"/orgs/CO1/limits/{VIOLATION}", {"value": 90}, token=mine)
    # the refusal names the permission and the unit that decides: the county above
    error = at_company.json()["error"]
    assert at_company.status_code == 403 and error["details"]["permission"] == "region:limits"
    assert error["details"]["unit"] == "C1"
    assert w.ok(w.get("/mines/M1/thresholds"))["values"][VIOLATION] == 120
    # thresholds that are not legal limits keep working as before
    ok = w.put("/mines/M1/thresholds", {"name": "window_min", "value": 30}, token=mine)
    assert ok.status_code == 200, ok.text


def test_a_county_tightens_for_its_subtree_and_the_alarm_follows(w: World) -> None:
    county = w.token_for("C1", write=True)
    set_ = w.put(f"/orgs/C1/limits/{VIOLATION}", {"value": 90}, token=county)
    assert set_.status_code == 200, set_.text
    shown = limit_of(w, VIOLATION)
    assert shown["rulebook"] == 120 and shown["effective"] == 90
    assert (shown["set_at"], shown["set_level"], shown["set_by"]) == ("C1", "county", "token:test")
    assert w.ok(w.get("/mines/M1/thresholds"))["values"][VIOLATION] == 90
    # a fault 100 min old: past the county's 90 min, within the rulebook's 120
    w.ok(
        w.post(
            "/mines/M1/faults",
            {"phenomenon": "主站死机", "occurred_at": local(2026, 3, 15, 10, 20).isoformat()},
        )
    )
    w.tick()
    [alarm] = [a for a in w.alarms() if a["type"] == "fault_report_overdue"]
    assert (alarm["severity"], alarm["threshold"]) == ("major", "90 min")
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "limit.set"))
        assert entry.entity_key == f"C1/{VIOLATION}"
        assert json.loads(entry.detail) == {"before": None, "after": 90, "level": "county"}
    engine.dispose()


def test_nobody_loosens_beyond_the_rulebook_or_the_level_above(w: World) -> None:
    city = w.token_for("T1", write=True)
    county = w.token_for("C1", write=True)
    loosened = w.put(f"/orgs/T1/limits/{VIOLATION}", {"value": 180}, token=city)
    assert loosened.status_code == 422
    assert loosened.json()["error"]["message"] == "不得放宽：故障上报违规 (分钟) 法定上限 120"
    unscoped = w.put(f"/orgs/SX/limits/{VIOLATION}", {"value": 121})
    assert unscoped.status_code == 422  # not even the top of the tree
    w.ok(w.put(f"/orgs/T1/limits/{VIOLATION}", {"value": 80}, token=city))
    above = w.put(f"/orgs/C1/limits/{VIOLATION}", {"value": 90}, token=county)
    assert above.status_code == 422
    assert "T1" in above.json()["error"]["message"]
    w.ok(w.put(f"/orgs/C1/limits/{VIOLATION}", {"value": 70}, token=county))
    assert limit_of(w, VIOLATION)["effective"] == 70
    # the county cannot touch the city's own level (outside its subtree)
    assert w.put(f"/orgs/T1/limits/{VIOLATION}", {"value": 60}, token=county).status_code == 404
    # zero is no deadline at all
    assert w.put(f"/orgs/C1/limits/{VIOLATION}", {"value": 0}, token=county).status_code == 422
    # a per-mine tightening through the thresholds by the county is capped the same way
    w.ok(w.put("/mines/M1/thresholds", {"name": VIOLATION, "value": 65}, token=county))
    shown = limit_of(w, VIOLATION)
    assert (shown["effective"], shown["set_at"], shown["set_level"]) == (65, "M1", "mine")
    over = w.put("/mines/M1/thresholds", {"name": VIOLATION, "value": 75}, token=county)
    assert over.status_code == 422


def test_a_county_user_without_the_permission_is_refused(w: World) -> None:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        c1 = limits.org_path(session, "C1")
        watcher = Principal("watcher", c1, frozenset({"region:view", "system:write"}), "user")
        with pytest.raises(Forbidden) as refused:
            limits.set_limit(session, watcher, "C1", VIOLATION, 90, w.clock())
        assert refused.value.details["permission"] == "region:limits"
        allowed = Principal("county", c1, frozenset({"region:limits"}), "user")
        limits.set_limit(session, allowed, "C1", "calibration_days", 10, w.clock())
    engine.dispose()
    assert limit_of(w, "calibration_days")["effective"] == 10
