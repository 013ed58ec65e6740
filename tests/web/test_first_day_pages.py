"""Small things a first-day user saw on the pages: capacities and settings shown as set,
其中人工 the same in rows and totals, the realtime records in a time range with paging,
period pickers, the password rules on the user form, why 报表审签 is empty, and the
lock-out minutes. On SQLite (what a page shows does not depend on the database); the clock
stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.support.world import World, totalizer
from tests.web.test_configuration import admin

# what the pages show: the same on either database
pytestmark = SQLITE_ONLY

__all__ = ["admin"]  # the signed-in administrator's fixture

SH = ZoneInfo("Asia/Shanghai")
Admin = tuple[World, TestClient, str]


def _cells(html: str, row_id: str) -> list[str]:
    """The texts of a table row's cells (tags dropped)."""
    row = re.search(rf'<tr[^>]*id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, row_id
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def test_capacities_are_shown_whole_when_whole_and_settings_as_set(admin: Admin) -> None:
    w, client, _ = admin
    w.mine("M1", capacity_t=900000)
    mines = client.get("/system/mines").text
    # 900,000 t a year, set as a whole number: no ".000"
    assert "900,000</td>" in mines and "900,000.000" not in mines
    capacity = client.get("/production/capacity?mine=M1").text
    # day = 900,000 / 330 = 2,727.2727… → 2,727.273; month = day × 30 = 81,818.182;
    # hour = day / 16 = 170.4545… → 170.455
    for figure in ("900,000</td>", "2,727.273", "81,818.182", "170.455"):
        assert figure in capacity, figure
    params = client.get("/system/params").text
    # the timed rules run every 10.0 s (a float setting, default): shown 10; the skew
    # allowance is 60 s (an integer)
    shown = dict(re.findall(r"<tr><th>([^<]+)</th><td class=\"num\">([^<]*)</td></tr>", params))
    assert shown["定时规则周期 (秒)"] == "10"
    assert shown["主站时钟允许偏差 (秒)"] == "60"
    assert shown["锁定时长 (分钟)"] == "15"


def test_manual_share_reads_the_same_in_rows_and_totals(admin: Admin) -> None:
    w, client, _ = admin
    w.mine("M1")
    # 10 t measured on 15 March, nothing entered by hand
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, datetime(2026, 3, 15, 8, tzinfo=SH), "B1", 100),
                totalizer(2, datetime(2026, 3, 15, 9, tzinfo=SH), "B1", 110),
            ],
        )
    )
    page = client.get("/query/production?mine=M1&period=day&from=2026-03-15&to=2026-03-15").text
    total = re.search(r'<tr class="total-row">(.*?)</tr>', page, re.S)
    assert total
    cells = [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", total.group(1), re.S)
    ]
    # 合计 · gross 10.000 · raw 10.000 (k = 0) · 其中人工 "—" as in the rows, not 0.000
    assert cells[:4] == ["合计", "10.000", "10.000", "—"]


def test_realtime_records_in_a_time_range_a_page_at_a_time(admin: Admin) -> None:
    w, client, _ = admin
    w.mine("M1")
    # 40 readings a minute apart, 10:00–10:39 local on 15 March
    start = datetime(2026, 3, 15, 10, tzinfo=SH)
    w.ok(
        w.upload(
            "S1",
            [totalizer(i + 1, start + timedelta(minutes=i), "B1", 100 + i) for i in range(40)],
        )
    )
    first = client.get("/query/realtime?mine=M1").text
    # the last 24 hours by default: all 40, 30 a page (newest first)
    assert "共 40 条" in first and "第 1 / 2 页" in first
    assert 'id="f-from"' in first and 'id="f-to"' in first
    second = client.get("/query/realtime?mine=M1&page=2").text
    assert "第 2 / 2 页" in second
    assert second.count('<td class="num">') > 0
    # 10:10 ≤ ts < 10:20 local: 10 records, the newest seq 20 (10:19), the oldest seq 11
    ranged = client.get(
        "/query/realtime",
        params={"mine": "M1", "from": "2026-03-15T10:10", "to": "2026-03-15T10:20"},
    ).text
    assert "共 10 条" in ranged
    seqs = [int(s) for s in re.findall(r'<tr><td class="num">(\d+)</td>', ranged)]
    assert seqs == list(range(20, 10, -1))
    table = client.get(
        "/query/realtime",
        params={
            "mine": "M1",
            "from": "2026-03-15T10:10",
            "to": "2026-03-15T10:20",
            "format": "csv",
        },
    )
    assert table.status_code == 200
    rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert [int(r[0]) for r in rows[1:]] == list(range(20, 10, -1))
    backwards = client.get(
        "/query/realtime",
        params={"mine": "M1", "from": "2026-03-15T11:00", "to": "2026-03-15T10:00"},
    )
    assert backwards.status_code == 422 and "after its start" in backwards.text


def test_period_reports_have_pickers_and_still_take_a_key(admin: Admin) -> None:
    w, client, _ = admin
    w.mine("M1")
    # a month and the second 旬 picked: the key 2026-03-2 (11–20 March)
    page = client.get("/reports/period?kind=dekad&mine=M1&month=2026-03&dekad=2").text
    assert "2026-03-2" in page
    assert 'type="month" id="f-month" name="month" value="2026-03"' in page
    assert '<option value="2" selected>中旬</option>' in page
    assert 'name="key"' not in page  # no free-text key any more
    # the key in the URL still works, and sets the pickers
    page = client.get("/reports/period?kind=dekad&mine=M1&key=2026-02-3").text
    assert "2026-02-3" in page
    assert 'value="2026-02"' in page and '<option value="3" selected>下旬</option>' in page
    page = client.get("/reports/period?kind=quarter&mine=M1&year=2025&quarter=4").text
    assert "2025-Q4" in page and '<option value="4" selected>' in page
    assert 'type="number" id="f-year" name="year"' in page
    page = client.get("/reports/period?kind=shift&mine=M1&day=2026-03-14").text
    assert 'type="date" id="f-day" name="day" value="2026-03-14"' in page
    # the mine's shifts to pick from (the default three), not a box to type a name in
    picker = re.search(r'<select id="f-shift" name="shift">(.*?)</select>', page, re.S)
    assert picker, page
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', picker.group(1))
    assert [(v, text.split()[-1]) for v, text in options] == [
        ("夜班", "00:00–08:00"),
        ("早班", "08:00–16:00"),
        ("中班", "16:00–00:00"),
    ]
    chosen = client.get("/reports/period?kind=shift&mine=M1&day=2026-03-14&shift=早班").text
    assert '<option value="早班" selected>' in chosen
    # a shift the mine has not: said in the page's language
    unknown = client.get("/reports/period?kind=shift&mine=M1&day=2026-03-14&shift=abc")
    assert unknown.status_code == 422 and "没有班次 abc：可选 夜班、早班、中班" in unknown.text
    page = client.get("/reports/period?kind=year&mine=M1").text
    assert 'value="2026"' in page  # this year by default
    # a month that is no month: refused with a message
    assert client.get("/reports/period?kind=month&month=2026-13").status_code == 422


def test_the_user_form_states_the_password_rules(admin: Admin) -> None:
    _, client, _ = admin
    page = client.get("/system/users/new").text
    assert "至少 10 位，须同时包含字母和数字，不能包含帐号。" in page


def test_an_empty_sign_off_list_says_why(admin: Admin) -> None:
    _, client, _ = admin
    page = client.get("/reports/pending").text
    assert "没有待签的报表" in page
    why = re.search(r'<p class="help" id="pending-why">(.*?)</p>', page, re.S)
    assert why
    text = why.group(1)
    assert "产量监控值机员 → 值班矿长 → 总工程师" in text
    # the administrator holds every permission but none of the signing roles
    assert "不担任这些签字角色" in text


def test_the_lock_out_message_names_no_minutes_and_no_account(admin: Admin) -> None:
    """The lock-out once said 16 minutes for a 15-minute lock; it now says nothing that
    tells whether the account exists (the same words as a wrong password)."""
    _, client, csrf = admin
    client.post("/logout", data={"csrf_token": csrf})
    for _ in range(5):
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        answer = client.post(
            "/login",
            data={
                "username": "admin",
                "password": "wrong-password-1",
                "csrf_token": token.group(1),
            },
        )
    assert answer.status_code == 401
    assert "用户名或密码错误，或账户已被暂时锁定" in answer.text
    assert "分钟" not in answer.text


def test_a_production_download_is_named_by_the_local_time_it_was_made(admin: Admin) -> None:
    """Stamped with the minute on the deployment's clock, as every other download: 12:00
    in Shanghai (04:00 UTC)."""
    w, client, _ = admin
    w.mine("M1")
    table = client.get(
        "/query/production",
        params={"mine": "M1", "period": "day", "from": "2026-03-15", "to": "2026-03-15",
                "format": "csv"},
    )  # fmt: skip
    assert table.status_code == 200
    assert "-202603151200.csv" in table.headers["content-disposition"], table.headers


def test_hours_and_days_not_begun_show_no_figures_not_zeros(admin: Admin) -> None:
    """At 12:00 on 15 March the hours from 13:00 and the days from the 16th have produced
    nothing because they have not begun: "—", not 0.000 (their capacity still shown)."""
    w, client, _ = admin
    w.mine("M1")
    page = client.get("/query/production?mine=M1&period=hour&from=2026-03-15&to=2026-03-15").text
    pending = re.findall(r'<tr class="is-pending"[^>]*>\s*<td>([^<]+)</td>', page)
    assert len(pending) == 11 and pending[0].endswith("13:00"), pending
    assert "12:00" in page and not any(p.endswith("12:00") for p in pending)
    month = client.get("/reports/period?kind=month&mine=M1&month=2026-03").text
    days = re.findall(r'<tr class="is-pending"[^>]*><td>([^<]+)</td>', month)
    assert days == [f"03-{d}" for d in range(16, 32)], days
    report = w.ok(w.get("/mines/M1/reports/month/2026-03"))
    assert [r["begun"] for r in report["rows"]] == [True] * 15 + [False] * 16
