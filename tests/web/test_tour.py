"""A look at every page (screenshots for a person to check)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import ADMIN_PASSWORD, Center, screenshot, sign_in


def test_tour(new_page: Any, center: Center) -> None:
    page = new_page()
    page.goto("/login")
    screenshot(page, "login")
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.wait_for_selector(".mine-card")
    screenshot(page, "dashboard")
    for path, name in [
        ("/monitor/region", "region"),
        ("/alarms", "alarm-console"),
        ("/query/alarms", "alarm-query"),
        ("/system/users", "users"),
        ("/system/roles?role=duty_operator", "roles"),
        ("/system/users/new", "user-form"),
        ("/system/orgs", "orgs"),
        ("/system/mines?mine=FHS", "mines"),
        ("/system/stations", "stations"),
        ("/system/params?mine=FHS", "params"),
        ("/system/audit", "audit"),
        ("/production/capacity?mine=FHS", "capacity"),
        ("/production/coefficients?mine=FHS", "coefficients"),
        ("/production/manual?mine=FHS", "manual"),
        ("/production/shutdowns?mine=FHS", "shutdowns"),
        ("/production/permits?mine=FHS", "permits"),
        ("/query/realtime?mine=FHS", "realtime"),
        ("/query/faults", "faults"),
        ("/query/production?org=SX&period=month", "org-production"),
        ("/password", "password"),
    ]:
        page.goto(path)
        page.wait_for_load_state("load")
        screenshot(page, name)
    page.goto("/monitor")
    page.click("button[name=lang][value=en]")
    page.wait_for_selector(".mine-card")
    assert page.inner_text("h1") == "Mine overview"
    screenshot(page, "dashboard-en")
    page.goto("/alarms")
    screenshot(page, "alarm-console-en")
    page.click("button[name=lang][value=zh_CN]")
    wall = new_page(1920, 1080)
    sign_in(wall, "admin", ADMIN_PASSWORD)
    wall.goto("/monitor/wall")
    wall.wait_for_selector(".wall-kpi")
    wall.wait_for_timeout(500)
    screenshot(wall, "wall")
