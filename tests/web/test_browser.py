"""The web UI in a real browser (Done-when of the web UI issue): sign-in, permissions,
data scope, the live dashboard, and the alarm console; on PostgreSQL (the other browser
test modules run on SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from coalwatch.alarms.models import Alarm
from coalwatch.audit.models import AuditEntry
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.web.conftest import (
    ADMIN_PASSWORD,
    SH,
    Center,
    Console,
    Seeded,
    copy_seeded_postgres,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def center_url(database_url: str, seeded_postgres: Seeded) -> str:
    return copy_seeded_postgres(database_url, seeded_postgres)


def _db(center: Center) -> Any:
    engine = make_engine(center.url)
    return engine, make_sessionmaker(engine)


def _csrf(page: Any) -> str:
    token: str = json.loads(page.get_attribute("body", "hx-headers"))["X-CSRF-Token"]
    return token


def _power_off(center: Center, station: str = "S-FHS") -> int:
    """A mains power loss at a station: an active alarm; returns its id."""
    center.upload(
        station,
        [
            {
                "ts": center.clock(),
                "type": "event",
                "point": "B1",
                "event": "power_off",
                "detail": "市电中断",
            }
        ],
    )
    engine, sessions = _db(center)
    with transaction(sessions) as session:
        alarm_id = session.scalars(
            select(Alarm.id).where(Alarm.type == "power_off").order_by(Alarm.id.desc())
        ).first()
    engine.dispose()
    assert alarm_id is not None
    return int(alarm_id)


def test_sign_in_lands_on_the_dashboard_and_is_audited(
    new_page: Any, center: Center, console: Console
) -> None:
    console.allow("/login: Failed to load resource: the server responded with a status of 401")
    page = new_page()
    page.goto("/monitor")
    assert "/login" in page.url  # not signed in: the login page, then back
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password-1")
    page.click("#login")
    assert "用户名或密码错误" in page.inner_text("#login-error")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login")
    page.wait_for_selector(".mine-card")
    assert page.url.endswith("/monitor")
    assert page.inner_text("h1") == "矿井总览"
    cards = page.locator(".mine-card").evaluate_all("cards => cards.map(c => c.dataset.mine)")
    assert sorted(cards) == ["DP", "FHS", "YL"]
    cookie = next(c for c in page.context.cookies() if c["name"] == "coalwatch_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.wait_for_selector("body[data-stream=open]")
    screenshot(page, "dashboard")
    engine, sessions = _db(center)
    with transaction(sessions) as session:
        actions = [
            (e.actor, e.action) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    engine.dispose()
    assert ("admin", "login.failed") in actions
    assert ("admin", "login") in actions


def test_user_without_write_sees_no_write_buttons_and_gets_403(
    new_page: Any, center: Center, console: Console
) -> None:
    console.allow("status of 403")
    alarm_id = _power_off(center)
    # 监管人员: views everything, acknowledges nothing, changes no users
    page = new_page()
    sign_in(page, "zhaoliu")
    page.goto("/alarms")
    page.wait_for_selector(f"#alarm-{alarm_id}")
    assert page.locator(".ack-button, .handle-button").count() == 0
    page.goto("/system/users")
    page.wait_for_selector("table")
    assert page.locator("#add-user, #delete-users").count() == 0
    token = _csrf(page)
    refused = page.request.post(f"/alarms/{alarm_id}/ack", headers={"X-CSRF-Token": token})
    assert refused.status == 403
    assert "alarm:write" in refused.text()
    refused = page.request.post(
        "/system/users/new",
        form={"csrf_token": token, "username": "x1", "name": "x", "password": "Abcdefgh123"},
    )
    assert refused.status == 403
    # 第三方 (read-only): menus without view are not shown, and their pages refuse
    reader = new_page()
    sign_in(reader, "lisi")
    menus = reader.locator(".sidebar summary").all_inner_texts()
    # (第三方 holds report:view and region:view: reports without sign buttons, and the
    # regulator's read-only views of its subtree)
    assert [m.strip() for m in menus] == ["实时监测", "数据查询", "报表管理", "区域监管"]
    assert reader.goto("/alarms").status == 403
    assert reader.goto("/system/users").status == 403


def test_county_user_cannot_see_another_countys_mine(
    new_page: Any, center: Center, console: Console
) -> None:
    console.allow("status of 404")
    page = new_page()
    sign_in(page, "zhangsan")  # 阳城县: 凤凰山, 东坡
    page.wait_for_selector(".mine-card")
    cards = page.locator(".mine-card").evaluate_all("cards => cards.map(c => c.dataset.mine)")
    assert sorted(cards) == ["DP", "FHS"]
    assert page.goto("/monitor?mine=YL").status == 404
    assert "未找到" in page.inner_text("h1")
    assert page.goto("/monitor?mine=FHS").status == 200
    assert page.goto("/query/production?mine=YL&period=day").status == 404
    page.goto("/monitor/region")
    rows = page.locator("tr[data-mine]").evaluate_all("rows => rows.map(r => r.dataset.mine)")
    assert sorted(rows) == ["DP", "FHS"]


def test_dashboard_changes_by_itself_when_a_batch_is_ingested(
    new_page: Any, center: Center
) -> None:
    page = new_page()
    sign_in(page, "zhangsan")
    page.wait_for_selector("body[data-stream=open]")
    cell = "[data-mine=FHS] tr[data-period=hour] td[data-field=gross]"
    before = Decimal(page.get_attribute(cell, "data-value"))
    # the history's last reading is at 11:59:55; this one is in the same hour
    center.produce("S-FHS", "B1", Decimal("123.456"), center.clock())
    # no reload: the figure arrives over the event stream
    page.wait_for_function(
        "([selector, before]) => document.querySelector(selector)?.dataset.value !== before",
        arg=[cell, str(before)],
    )
    after = Decimal(page.get_attribute(cell, "data-value"))
    assert after - before == Decimal("123.456")


def test_alarm_is_acknowledged_and_handled_from_the_console(new_page: Any, center: Center) -> None:
    page = new_page()
    sign_in(page, "zhangsan")
    page.goto("/alarms?todo=1")
    page.wait_for_selector("body[data-stream=open]")
    alarm_id = _power_off(center)
    row = page.locator(f"#alarm-{alarm_id}")
    row.wait_for()  # arrives by itself over the event stream
    assert row.get_attribute("data-state") == "active"
    page.wait_for_selector("#bell.is-ringing")
    assert page.evaluate("window.coalwatch.ringing()")
    page.click("#mute")
    assert not page.evaluate("window.coalwatch.ringing()")

    row.locator(".ack-button").click()
    page.wait_for_selector(f"#alarm-{alarm_id}[data-state=acknowledged]")
    result = "已通知调度员，切换备用电源，供电恢复后复查计量数据"
    page.locator(f"#alarm-{alarm_id} input[name=result]").fill(result)
    page.locator(f"#alarm-{alarm_id} .handle-button").click()
    # the row as it is drawn handled (the next redraw of this to-do list leaves it out)
    handled = page.wait_for_selector(f"#alarm-{alarm_id}[data-state=handled]")
    assert result in handled.inner_text()
    assert "处理结果已记录" in page.inner_text("#flash")
    screenshot(page, "alarm-console")

    engine, sessions = _db(center)
    with transaction(sessions) as session:
        alarm = session.get_one(Alarm, alarm_id)
        assert (alarm.state, alarm.acknowledged_by, alarm.handled_by, alarm.result) == (
            "handled",
            "zhangsan",
            "zhangsan",
            result,
        )
    engine.dispose()


def test_a_refresh_of_the_console_asked_before_an_alarm_is_handled_does_not_undo_it(
    new_page: Any, center: Center
) -> None:
    """An alarm event redraws the console; a redraw asked before the operator handled a
    row, and answered after, must not put the row back as it was (acknowledged, its
    result box empty)."""
    page = new_page()
    sign_in(page, "zhangsan")
    page.goto("/alarms")
    page.wait_for_selector("body[data-stream=open]")
    alarm_id = _power_off(center)
    page.locator(f"#alarm-{alarm_id} .ack-button").click()
    page.wait_for_selector(f"#alarm-{alarm_id}[data-state=acknowledged]")

    held: list[Any] = []

    def hold(route: Any) -> None:  # the first redraw waits; later ones go through
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/alarms/rows?**", hold)
    redraw_table = """() => {
        const rows = document.getElementById("alarm-rows");
        htmx.ajax("GET", rows.getAttribute("hx-get"), {source: rows, target: rows});
    }"""
    # the row's state each time the table is redrawn
    page.evaluate(
        """(id) => {
            window.drawn = [];
            document.body.addEventListener("htmx:afterSwap", (event) => {
                if (event.detail.elt.id !== "alarm-rows") return;
                const row = document.getElementById("alarm-" + id);
                window.drawn.push(row ? row.dataset.state : "gone");
            });
        }""",
        alarm_id,
    )
    page.evaluate(redraw_table)  # as an alarm event does
    while not held:
        page.wait_for_timeout(20)
    redraw = held[0]
    before = redraw.fetch()  # the table as the server draws it before the handling
    assert 'data-state="acknowledged"' in before.text()

    page.locator(f"#alarm-{alarm_id} input[name=result]").fill("已复电")
    page.locator(f"#alarm-{alarm_id} .handle-button").click()
    page.wait_for_selector(f"#alarm-{alarm_id}[data-state=handled]")
    redraw.fulfill(response=before)  # the redraw answered after the handling
    page.evaluate(redraw_table)  # and one asked after it
    page.wait_for_function("() => window.drawn.length > 0")
    page.wait_for_timeout(300)  # any redraw still under way lands
    assert set(page.evaluate("window.drawn")) == {"handled"}
    assert "已复电" in page.inner_text(f"#alarm-{alarm_id}")


def test_an_alarm_raised_within_a_second_of_another_is_drawn_too(
    new_page: Any, center: Center
) -> None:
    """The console redraws on each alarm event at most once a second: an event inside
    that second is not dropped but redrawn at its end (the row does not wait for the
    minute's poll)."""
    page = new_page()
    sign_in(page, "zhangsan")
    page.goto("/alarms")
    page.wait_for_selector("body[data-stream=open]")
    first = _power_off(center)
    page.wait_for_selector(f"#alarm-{first}")
    second = _power_off(center, "S-DP")  # its event comes within the second
    page.wait_for_selector(f"#alarm-{second}", timeout=5_000)


def test_production_query_draws_a_chart_and_a_table_and_exports(
    new_page: Any, center: Center
) -> None:
    page = new_page()
    sign_in(page, "zhangsan")
    page.goto("/query/production?mine=FHS&period=hour")
    page.wait_for_selector("#production-chart canvas")
    assert page.inner_text("h1").startswith("时产量查询")
    rows = page.locator("#production-table tbody tr")
    assert rows.count() == 25  # the total and the 24 hours of 15 March
    total_gross = page.inner_text("[data-total=gross]")
    assert total_gross == "3,400.000"  # 3,400 t since midnight (history, 12 hours)
    screenshot(page, "production-query")

    page.select_option("#f-period", "day")
    page.click("#query")
    page.wait_for_selector("#production-chart canvas")
    assert page.inner_text("h1").startswith("日产量查询")

    csv = page.request.get(page.get_attribute("#export-csv", "href"))
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.body().decode("utf-8")
    assert text.startswith("\ufeff时间,毛煤 (t),原煤 (t)")
    assert "合计,3400.000," in text
    xlsx = page.request.get(page.get_attribute("#export-xlsx", "href"))
    assert xlsx.status == 200
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(xlsx.body())).active
    assert sheet is not None
    assert sheet.cell(row=1, column=1).value == "时间"
    last = sheet.max_row
    assert sheet.cell(row=last, column=1).value == "合计"
    assert Decimal(str(sheet.cell(row=last, column=2).value)) == Decimal("3400")


def test_region_view_lists_the_subtree_sorted_by_ratio_and_by_alarms(
    new_page: Any, center: Center
) -> None:
    _power_off(center, "S-DP")
    page = new_page()
    sign_in(page, "zhaoliu")  # 山西省: every mine
    page.goto("/monitor/region?sort=ratio&period=day")
    order = page.locator("tr[data-mine]").evaluate_all("rows => rows.map(r => r.dataset.mine)")
    assert order == ["YL", "FHS", "DP"]  # day ratios 101 %, 89 %, 59 %
    assert "is-over" in (page.get_attribute("tr[data-mine=YL]", "class") or "")
    screenshot(page, "region")
    page.select_option("#sort", "alarms")
    page.click("form.filter-bar button[type=submit]")
    page.wait_for_url("**sort=alarms**")
    first = page.locator("tr[data-mine]").first.get_attribute("data-mine")
    assert first in ("YL", "FHS")  # the most unacknowledged alarms first


def test_wall_fits_1920_by_1080_without_scrolling(new_page: Any, center: Center) -> None:
    page = new_page(1920, 1080)
    sign_in(page, "zhaoliu")
    page.goto("/monitor/wall")
    page.wait_for_selector(".wall-panel .chart canvas")
    size = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size == [1920, 1080]
    screenshot(page, "wall")


def test_duty_operator_signs_the_daily_report(
    new_page: Any, center: Center, console: Console
) -> None:
    """监测日报表: the duty operator opens yesterday's report and signs first; the next
    signature (值班矿长) is not offered to the operator."""
    yesterday = (center.clock().astimezone(SH) - timedelta(days=1)).date()
    assert yesterday.isoformat() == "2026-03-14"
    page = new_page(1400, 1100)
    sign_in(page, "zhangsan")
    page.click("text=报表管理")
    page.click("text=监测日报表")
    page.wait_for_selector("#daily-hours")
    page.goto(f"/reports/daily?mine=FHS&day={yesterday.isoformat()}")
    assert page.inner_text("h1.page-title").startswith("监测日报表")
    assert page.locator("#daily-hours tbody tr").count() == 24
    assert page.locator("#sign-duty_mine_manager").count() == 0
    page.click("#sign-duty_operator")
    page.wait_for_selector("td.signature[data-role=duty_operator] strong")
    assert page.inner_text("td.signature[data-role=duty_operator] strong") == "zhangsan"
    assert page.locator("#sign-duty_operator").count() == 0
    assert "已签字冻结" in page.inner_text("#report-meta")
    screenshot(page, "daily-report", full_page=True)
    engine, sessions = _db(center)
    with transaction(sessions) as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    engine.dispose()
    assert "report.sign" in actions


def test_the_console_acknowledges_every_ticked_alarm_at_once(new_page: Any, center: Center) -> None:
    # an instrument opened at two mines of 阳城县 (凤凰山, 东坡): two alarms to acknowledge
    for station in ("S-FHS", "S-DP"):
        center.upload(
            station,
            [{"ts": center.clock(), "type": "event", "point": "B1", "event": "enclosure_open"}],
        )
    engine, sessions = _db(center)
    with transaction(sessions) as session:
        opened = list(
            session.scalars(
                select(Alarm.id).where(Alarm.type == "enclosure_open", Alarm.state == "active")
            )
        )
    assert len(opened) == 2
    page = new_page()
    sign_in(page, "zhangsan")
    page.goto("/alarms?state=active")
    for alarm_id in opened:
        page.wait_for_selector(f"#alarm-{alarm_id}")
    page.click(".select-all")  # the header's box ticks every row of the page
    ticked = page.locator("input[name=ids]:checked").evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )
    assert {int(v) for v in ticked} >= set(opened)
    page.click(".bulk-ack-button")
    page.wait_for_load_state("networkidle")
    assert "已确认" in page.inner_text("#flash")
    with transaction(sessions) as session:
        states = {
            a.id: (a.state, a.acknowledged_by)
            for a in session.scalars(select(Alarm).where(Alarm.id.in_(opened)))
        }
    engine.dispose()
    assert states == {alarm_id: ("acknowledged", "zhangsan") for alarm_id in opened}
