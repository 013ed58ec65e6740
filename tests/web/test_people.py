"""人员与证书, 排班, 当班人员 and 定期检查 in a real browser, in Chinese and English.

The center's clock stands at 2026-03-15 12:00 in Asia/Shanghai (the 早班 08–16). 张三's
certificate issued 2024-12-10 is valid through 2026-12-09 (two years less a day), so it
is valid today; the user admin is linked to 张三. A UPS runtime of 50 minutes is under
the 60 below which the batteries are replaced.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from tests.web.conftest import ADMIN_PASSWORD, Center, screenshot, sign_in


def _submit(page: Any, form: str) -> None:
    page.click(f"{form} button[type=submit]")
    page.wait_for_load_state("load")


def test_people_rosters_and_the_schedule_board(
    center: Center, new_page: Any, tmp_path: Path
) -> None:
    page = new_page()
    sign_in(page, "admin", ADMIN_PASSWORD)

    # register a person of 凤凰山煤矿 FHS, linked to the signed-in user, and a certificate:
    # once the mine keeps a register, only its certified people record checks there
    page.goto("/people?unit=FHS")
    page.fill("#p-name", "张三")
    page.fill("#p-id", "140521199003074518")
    page.fill("#p-user", "admin")
    _submit(page, "#person-form")
    row = page.locator("#people tbody tr").first
    assert "140***********4518" in row.inner_text()  # kept masked
    assert "无证" in row.inner_text()
    page.fill(".cert-form input[name=number]", "SX-2024-0018")
    page.fill(".cert-form input[name=issued_by]", "晋城市煤炭局")
    page.fill(".cert-form input[name=issued_on]", "2024-12-10")
    _submit(page, ".cert-form")
    row = page.locator("#people tbody tr").first
    assert "2026/12/9" in row.inner_text() or "2026-12-09" in row.inner_text()
    assert row.locator(".state").inner_text() == "有效"
    with page.expect_download() as download:
        page.click("#export-xlsx")
    path = tmp_path / "register.xlsx"
    download.value.save_as(path)
    sheet = load_workbook(io.BytesIO(path.read_bytes())).active
    assert sheet is not None
    rows = [r for r in sheet.iter_rows(values_only=True) if r and "张三" in r]
    assert len(rows) == 1 and "SX-2024-0018" in rows[0] and "有效" in rows[0]
    screenshot(page, "people")

    # the roster: 张三 on today's 中班; a mine needs 2 a shift
    page.goto("/people/roster?unit=FHS")
    assert "每班至少 2 人" in page.inner_text("#staffing")
    page.select_option("#r-shift", "中班")
    _submit(page, "#roster-form")
    shift = page.locator("#shifts tr[data-shift='2026-03-15/中班']")
    assert "张三" in shift.inner_text()
    screenshot(page, "roster")
    page.goto("/people/today?unit=FHS")
    assert "张三" in page.inner_text("#shifts")

    # the schedule board: a UPS runtime of 50 minutes asks for new batteries
    page.goto("/routines/board?mine=FHS")
    page.select_option("#r-kind", "ups_runtime")
    page.fill("#r-minutes", "50")
    page.fill("#r-by", "张三")
    page.fill("#r-back", "李四")
    _submit(page, "#routine-form")
    assert "不足 1 小时，需更换电池" in page.inner_text("#routine-records")
    assert "备用电源放电测试" in page.inner_text("#board")
    screenshot(page, "routines-board")

    # the same pages in English
    page.click("button[name=lang][value=en]")
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "Routine checks"
    assert "Under 1 h: replace the batteries" in page.inner_text("#routine-records")
    page.goto("/people?unit=FHS")
    assert page.inner_text("h1") == "People and certificates"
    assert page.locator("#people tbody tr .state").first.inner_text() == "valid"
    page.goto("/people/roster?unit=FHS")
    assert page.inner_text("h1") == "Roster"
    page.click("button[name=lang][value=zh_CN]")
