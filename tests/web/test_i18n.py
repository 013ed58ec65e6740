"""Languages: zh-CN by default, English through its catalog; figures and dates in the
user's locale."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from coalwatch.auth.service import create_admin
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.web.catalog import template
from coalwatch.web.i18n import LOCALE_DIR, Formats
from tests.support.world import World, world


def test_every_text_of_the_pages_has_an_english_translation() -> None:
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        english = {m.id: m.string for m in read_po(handle) if m.id}
    wanted = {m.id for m in template() if m.id}
    assert sorted(wanted - {k for k, v in english.items() if v}) == []


def test_figures_and_dates_follow_the_locale() -> None:
    at = datetime(2026, 3, 15, 6, 5, tzinfo=UTC)  # 14:05 in Asia/Shanghai
    zh = Formats("zh_CN", ZoneInfo("Asia/Shanghai"))
    en = Formats("en", ZoneInfo("Asia/Shanghai"))
    assert zh.tonnes(Decimal("1234567.5")) == "1,234,567.500"
    assert zh.tonnes(Decimal("0.0005")) == "0.001"  # half-up, shown only
    assert zh.percent(Decimal("0.9345")) == "93.5%"
    assert zh.instant(at) == "2026/3/15 14:05"
    assert en.instant(at) == "3/15/2026 14:05"
    assert zh.day(at, "full") == "2026年3月15日星期日"
    assert en.day(at, "full") == "Sunday, March 15, 2026"
    assert zh.month(at) == "2026年3月" and en.month(at) == "Mar 2026"


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url) as w:
        w.mine("M1")
        engine = make_engine(sqlite_url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", "Admin-2026-pass", w.clock())
        engine.dispose()
        yield w


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def test_chinese_by_default_and_english_on_request(w: World) -> None:
    page = w.client.get("/login").text
    assert 'lang="zh-CN"' in page and "用户登录" in page
    w.client.post(
        "/login",
        data={"username": "admin", "password": "Admin-2026-pass", "csrf_token": _csrf(page)},
    )
    page = w.client.get("/monitor").text
    assert "矿井总览" in page and "当天产量" in page
    w.client.post("/lang", data={"lang": "en", "next": "/monitor", "csrf_token": _csrf(page)})
    page = w.client.get("/monitor").text
    assert 'lang="en"' in page
    assert "Mine overview" in page and "Monitoring" in page and "矿井总览" not in page
    assert "Sunday, March 15, 2026" in page
    # the choice is the user's: it comes back at the next sign-in
    w.client.cookies.clear()
    page = w.client.get("/login").text
    w.client.post(
        "/login",
        data={"username": "admin", "password": "Admin-2026-pass", "csrf_token": _csrf(page)},
    )
    assert "Mine overview" in w.client.get("/monitor").text
