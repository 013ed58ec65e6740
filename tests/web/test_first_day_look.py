"""What a first-day user saw in the browser: the wall's ratio chart in percent, the
dashboard cards without a dangling separator, and the English menu one line a label.
Screenshots in tests/web/screenshots (wall-1920, sidebar-en)."""

from __future__ import annotations

import json
from typing import Any

from tests.web.conftest import ADMIN_PASSWORD, Center, Console, screenshot, sign_in


def _y_axis(page: Any, chart: str) -> str:
    """The name of the first y axis of a wall chart, as ECharts drew it."""
    name: str = page.evaluate(
        "chart => echarts.getInstanceByDom(document.querySelector(`.chart[data-chart=${chart}]`))"
        ".getOption().yAxis[0].name",
        chart,
    )
    return name


def test_the_walls_ratio_chart_is_in_percent(
    new_page: Any, center: Center, console: Console
) -> None:
    page = new_page(1920, 1080)
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.goto("/monitor/wall")
    page.wait_for_selector(".chart[data-chart=ratios] canvas")
    spec = json.loads(page.get_attribute(".chart[data-chart=ratios]", "data-series"))
    assert spec["series"][0]["name"] == "当天产能比"
    assert _y_axis(page, "ratios") == "%"
    assert _y_axis(page, "hours") == "t"
    screenshot(page, "wall-1920")


def test_dashboard_cards_have_no_dangling_separator(
    new_page: Any, center: Center, console: Console
) -> None:
    page = new_page()
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.wait_for_selector(".kpi-sub")
    subs = page.locator(".kpis .kpi-sub").all_inner_texts()
    assert subs and not any(text.strip().endswith("·") or "· \n" in text for text in subs)
    assert not any("·" in text for text in subs)


def test_english_menu_labels_fit_on_one_line(
    new_page: Any, center: Center, console: Console
) -> None:
    page = new_page()
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.click(".lang-form button[value=en]")
    page.wait_for_selector("html[lang=en]")
    page.evaluate("() => document.querySelectorAll('.sidebar details').forEach(d => d.open = true)")
    lines = page.evaluate(
        """() => [...document.querySelectorAll('.sidebar summary, .sidebar li a')].map(e => {
            const style = getComputedStyle(e);
            const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
            // a menu's arrow floats right: when it has no room it drops below the label,
            // outside the box but inside its scroll height
            const height = Math.max(e.getBoundingClientRect().height, e.scrollHeight)
                - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
            return [e.textContent.trim(), Math.round(height / line)];
        })"""
    )
    assert len(lines) > 40
    wrapped = [text for text, count in lines if count > 1]
    assert wrapped == [], wrapped
    assert "Period reports" in [text for text, _ in lines]
    page.set_viewport_size({"width": 1600, "height": 1800})
    screenshot(page, "sidebar-en")


def test_a_refused_form_comes_back_with_what_was_typed(
    new_page: Any, center: Center, console: Console
) -> None:
    """A form the center refuses comes back as its page with the reason on top, and what
    was typed still in the form (the reason says what to mend, nothing to type again)."""
    page = new_page()
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.goto("/production/manual?mine=FHS")
    typed = {
        "#mp-t": "12.5",
        "#mp-start": "2026-03-15T10:00",
        "#mp-end": "2026-03-15T08:00",  # before the start: refused by the center
        "#mp-reason": "积算仪故障期间按装车记录补录",
    }
    for field, value in typed.items():
        page.fill(field, value)
    page.click("#manual-form button[type=submit]")
    page.wait_for_selector("#flash .notification.is-danger")
    assert "结束须晚于开始" in page.inner_text("#flash")
    assert {field: page.input_value(field) for field in typed} == typed
    screenshot(page, "refused-form-kept")
    # once shown, the typed values are not put back again (a reload starts afresh)
    page.reload()
    assert page.input_value("#mp-reason") == ""


#: pages that were wider than a 1366 px screen in English (their headers do not wrap)
WIDE_IN_ENGLISH = (
    "/reports/daily",
    "/system/params",
    "/system/mines",
    "/ledger/calibrations",
    "/system/tokens",
    "/system/audit",
)


def test_english_pages_fit_a_1366_screen(new_page: Any, center: Center, console: Console) -> None:
    page = new_page(1366, 768)
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.click(".lang-form button[value=en]")
    page.wait_for_selector("html[lang=en]")
    wide = {}
    for path in WIDE_IN_ENGLISH:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, "en-1366-" + path.strip("/").replace("/", "-"), full_page=True)
        if width > 1366:
            wide[path] = width
    assert wide == {}
