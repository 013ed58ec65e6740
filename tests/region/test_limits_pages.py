"""The pages of the legal limits (系统参数) and of the fault reductions (故障与上报), signed in
as a county office's user (a role with ``region:limits`` and ``region:reduction``) and as
the mine's own administrator (every permission, at the mine's company). Once, on SQLite.
Clock: 2026-03-15 12:00 Asia/Shanghai."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from coalwatch.auth.permissions import DECISIONS, PERMISSIONS, VIEW_ALL
from coalwatch.auth.principal import OPERATOR
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import RoleIn
from tests.support.world import World, world
from tests.web.test_accounts import PASSWORD, login

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url, now=datetime(2026, 3, 15, 12, 0, tzinfo=SH)) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "CO1", "name": "煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="CO1", capacity_t=1200000)
        engine = make_engine(w.url)
        with transaction(make_sessionmaker(engine)) as session:
            permissions = sorted(VIEW_ALL | {"region:limits", "region:reduction"})
            role = RoleIn(code="county_office", name="县局", permissions=permissions)
            users.create_role(session, OPERATOR, role, w.clock())
            # the mine's administrator: every permission a mine's user may hold
            everything = sorted(PERMISSIONS - DECISIONS)
            role = RoleIn(code="mine_admin", name="矿井管理员", permissions=everything)
            users.create_role(session, OPERATOR, role, w.clock())
        engine.dispose()
        accounts = [("county-li", "C1", ["county_office"]), ("mine-wang", "CO1", ["mine_admin"])]
        w.users(accounts, PASSWORD, ready=True)
        yield w


def signed_in(w: World, username: str) -> TestClient:
    client = TestClient(w.client.app)
    assert login(client, username).status_code == 303
    return client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_county_shortens_a_limit_on_the_params_page_and_the_mine_cannot(w: World) -> None:
    county = signed_in(w, "county-li")
    page = county.get("/system/params?mine=M1").text
    assert 'id="limits"' in page and "limit-form" in page
    done = county.post(
        "/system/limits",
        data={
            "csrf_token": csrf(page),
            "org": "C1",
            "name": "fault_report_violation_minutes",
            "value": "90",
            "mine": "M1",
        },
    )
    assert done.status_code == 200 and "法定时限已保存" in done.text
    row = re.search(r'<tr data-limit="fault_report_violation_minutes">.*?</tr>', done.text, re.S)
    assert row is not None
    assert ">120<" in row.group(0) and ">90<" in row.group(0) and "county-li" in row.group(0)
    mine = signed_in(w, "mine-wang")
    page = mine.get("/system/params?mine=M1").text
    assert "法定时限，由监管单位设定" in page and "limit-form" not in page
    refused = mine.post(
        "/system/limits",
        data={
            "csrf_token": csrf(page),
            "org": "CO1",
            "name": "fault_report_violation_minutes",
            "value": "60",
            "mine": "M1",
        },
    )
    assert refused.status_code == 403


def test_the_county_waives_a_pending_reduction_on_the_faults_page(w: World) -> None:
    body = {"phenomenon": "主站死机", "occurred_at": "2026-03-15T08:00:00+08:00"}
    fault = w.ok(w.post("/mines/M1/faults", body))
    w.tick()  # 4 h unreported: pending
    mine = signed_in(w, "mine-wang")
    assert "reduction-form" not in mine.get("/region/faults?org=C1").text
    county = signed_in(w, "county-li")
    page = county.get("/region/faults?org=C1").text
    assert "reduction-form" in page and "待确认" in page
    done = county.post(
        f"/region/faults/{fault['id']}/reduction",
        data={"csrf_token": csrf(page), "decision": "waive", "reason": "雷击停电"},
    )
    assert done.status_code == 200 and "核减决定已保存" in done.text
    assert "已免减" in done.text and "雷击停电" in done.text
