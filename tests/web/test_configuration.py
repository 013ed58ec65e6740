"""The configuration pages post through the services: orgs, mines, points, stations,
capacity, plans, coefficients, thresholds, manual production, shutdowns, permits.
On SQLite (the services behind the pages are tested on both databases); the clock stands
at 2026-03-15 12:00 in Asia/Shanghai."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from coalwatch.auth.service import create_admin
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, world

# forms and pages: the same on either database
pytestmark = SQLITE_ONLY


@pytest.fixture
def admin(database_url: str) -> Iterator[tuple[World, TestClient, str]]:
    with world(database_url) as w:
        engine = make_engine(database_url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", "Admin-2026-pass", w.clock())
        engine.dispose()
        page = w.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        w.client.post(
            "/login",
            data={"username": "admin", "password": "Admin-2026-pass", "csrf_token": token.group(1)},
        )
        page = w.client.get("/system/orgs")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        yield w, w.client, csrf.group(1)


def post(client: TestClient, path: str, csrf: str, **fields: str) -> str:
    answer = client.post(path, data={"csrf_token": csrf, **fields})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_an_administrator_configures_a_mine_from_the_pages(
    admin: tuple[World, TestClient, str],
) -> None:
    w, client, csrf = admin
    page = post(client, "/system/orgs", csrf, code="YC", name="阳城县", kind="county")
    assert "单位已增加" in page and "阳城县" in page
    page = post(
        client,
        "/system/mines",
        csrf,
        code="FHS",
        name="凤凰山煤矿",
        org="YC",
        annual_capacity_t="1200000",
    )
    assert "矿井已增加" in page
    page = post(client, "/system/mines/FHS/points", csrf, code="B1", name="主井皮带秤", kind="belt")
    assert "计量点已增加" in page
    key = public_key_b64(generate_private_key())
    page = post(client, "/system/stations", csrf, mine="FHS", code="S1", public_key=key)
    assert "主站已登记" in page and key[:16] in page
    page = post(
        client,
        "/production/FHS/capacity",
        csrf,
        annual_capacity_t="900000",
        effective_from="2026-03-01",
        licence_no="晋煤行审〔2026〕12号",
        licence_date="2026-02-20",
    )
    assert "900,000</td>" in page  # a capacity set whole is shown whole
    assert "晋煤行审〔2026〕12号" in page  # with the licence document that decided it
    page = post(
        client, "/production/FHS/plans", csrf, month="2026-03", month_t="80000", day_t="2700"
    )
    assert "80,000.000" in page
    page = post(
        client,
        "/production/FHS/coefficients",
        csrf,
        percent="4.5",
        effective_from="2026-01-01",
        effective_to="2026-06-30",
        analysis="夹矸、伪顶混入",
    )
    assert "折算系数申报已提交，待审批" in page and "4.50" in page
    # the administrator applied; another (the write token) approves
    (application,) = w.ok(w.get("/coefficient-applications", status="pending"))["items"]
    w.ok(w.post(f"/coefficient-applications/{application['id']}/approve", None))
    page = post(client, "/system/params/FHS", csrf, name="comm_loss_minutes", value="2")
    assert "阈值已保存" in page
    page = post(
        client,
        "/production/FHS/manual",
        csrf,
        point="B1",
        start="2026-03-15T08:00",
        end="2026-03-15T10:00",
        gross_t="120.5",
        reason="皮带秤故障，人工计量",
    )
    assert "人工录入已提交，待审批" in page and "120.500" in page
    (entry,) = w.ok(w.get("/manual-entries", status="pending"))["items"]
    w.ok(w.post(f"/manual-entries/{entry['id']}/approve", None))
    page = post(
        client,
        "/production/FHS/shutdowns",
        csrf,
        start="2026-03-20T00:00",
        end="2026-03-23T00:00",
        reason="检修",
    )
    assert "停产报备已登记" in page
    page = post(
        client,
        "/production/FHS/permits",
        csrf,
        point="B1",
        start="2026-03-15T13:00",
        end="2026-03-15T15:00",
        reason="调校",
    )
    assert "开盖/调参已审批" in page
    summary = w.ok(w.get("/mines/FHS/summary"))
    assert summary["day"]["manual_t"] == 120.5
    assert w.ok(w.get("/mines/FHS/thresholds"))["values"]["comm_loss_minutes"] == 2
    permits = w.ok(w.get("/mines/FHS/permits"))["items"]
    assert permits[0]["start"] == "2026-03-15T05:00:00Z"  # 13:00 in Asia/Shanghai


def test_a_bad_form_comes_back_as_a_message(admin: tuple[World, TestClient, str]) -> None:
    _, client, csrf = admin
    page = post(client, "/system/orgs", csrf, code="bad code", name="x", kind="county")
    assert "notification is-danger" in page and "code" in page
    page = post(
        client, "/system/mines", csrf, code="M9", name="x", org="NOPE", annual_capacity_t="1"
    )
    assert "NOPE" in page


def test_exports_have_the_exact_totals(admin: tuple[World, TestClient, str]) -> None:
    w, client, _ = admin
    w.mine("M1", org="C1")
    answer = client.get(
        "/query/production?mine=M1&period=day&from=2026-03-01&to=2026-03-15&format=csv"
    )
    assert answer.status_code == 200
    text = answer.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("时间,毛煤 (t),原煤 (t)")
    assert text.splitlines()[-1].startswith("合计,0.000,0.000")
    assert "attachment" in answer.headers["content-disposition"]
    alarms = client.get("/query/alarms?format=xlsx")
    assert alarms.status_code == 200
    assert alarms.headers["content-type"].startswith("application/vnd.openxmlformats")


def test_a_refused_field_is_named_by_its_label_in_the_readers_language(
    admin: tuple[World, TestClient, str],
) -> None:
    """Not pydantic's English with the schema's names ("annual_capacity_t: Input should
    be a valid decimal"), but the form's label and what is wrong, in Chinese."""
    _, client, csrf = admin
    post(client, "/system/orgs", csrf, code="YC", name="阳城县", kind="county")
    post(
        client, "/system/mines", csrf, code="FHS", name="凤凰山煤矿", org="YC",
        annual_capacity_t="1200000",
    )  # fmt: skip
    post(client, "/system/mines/FHS/points", csrf, code="B1", name="主井皮带秤", kind="belt")
    page = post(client, "/production/FHS/capacity", csrf, annual_capacity_t="abc")
    assert "年生产能力 (t)：请输入数字" in page, page
    page = post(client, "/production/FHS/capacity", csrf, annual_capacity_t="-5")
    assert "年生产能力 (t)：不能为负数" in page
    page = post(
        client, "/production/FHS/manual", csrf, point="B1", start="2026-03-15T10:00",
        end="2026-03-15T08:00", gross_t="1", reason="x",
    )  # fmt: skip
    assert "结束须晚于开始" in page and "Value error" not in page
    # a page's address: a period there is none of
    answer = client.get("/query/production", params={"mine": "FHS", "period": "week"})
    assert answer.status_code == 422 and "周期：请从列表中选择" in answer.text
