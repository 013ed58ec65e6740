"""Hostile values stay text: markup, template syntax and htmx attributes stored in every
text field a user, a token holder or a station can set are shown as typed on every page of
the menu, opened by the global administrator in Chromium.

Nothing injected may exist in the DOM (no ``svg[onload]``, ``img[onerror]``,
``i[hx-post]``), no dialog may open, no request may leave for an address the page does
not make by itself (a POST, or the ``src=x`` of the injected image), and ``{{7*7}}`` shows
literally.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_token
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import RoleIn, UserIn
from coalwatch.web.navigation import PAGES
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.web.conftest import ADMIN_PASSWORD, PASSWORD, Center, sign_in

HTMX = """<i hx-post=/system/users/1 hx-trigger=load hx-vals='{"name":"pwned"}'></i>"""
SVG = '"><svg onload=alert(1)>'
IMG = "<img src=x onerror=alert(2)>"
TEMPLATE = "{{7*7}}"
#: one value with every payload (under the 200 characters of a name)
HOSTILE = f"{SVG}{IMG}{TEMPLATE}{HTMX}"
#: for the fields of 100 characters (certificate numbers)
SHORT = f"{SVG}{IMG}{TEMPLATE}"
#: what the DOM must not hold
INJECTED = "svg[onload], img[onerror], i[hx-post], [hx-vals*=pwned], [onload], [onerror]"
#: pages that show the stored values besides the menu's (details of a mine, a role, ...)
DETAILS = (
    "/system/roles?role=hostile",
    "/system/users?q=hostile",
    "/system/mines?mine=XM",
    "/system/mines?mine=FHS",
    "/system/params?mine=FHS",
    "/query/realtime?mine=FHS",
    "/query/faults?mine=FHS",
    "/query/alarms?mine=FHS",
    "/video/live?mine=FHS",
    "/video/playback?mine=FHS",
    "/production/manual?mine=DP",
    "/production/permits?mine=FHS",
    "/production/shutdowns?mine=FHS",
    "/production/coefficients?mine=FHS",
    *(
        f"/ledger/{ledger}?mine=FHS"
        for ledger in (
            "equipment",
            "faults",
            "maintenance",
            "calibrations",
            "duty",
            "patrols",
            "ups",
        )
    ),
)


def _store(center: Center) -> None:
    """Every text field, through the services and the API (an unscoped write token)."""
    assert len(HOSTILE) <= 200
    engine = make_engine(center.url)
    now = center.clock()
    try:
        with transaction(make_sessionmaker(engine)) as session:
            token = create_token(session, "hostile", None, True, now)
            create_token(session, HOSTILE, "YC", False, now)  # 接口令牌 lists its name
            users.create_role(
                session, OPERATOR, RoleIn(code="hostile", name=HOSTILE, permissions=[]), now
            )
            users.create_user(
                session,
                OPERATOR,
                UserIn(
                    username="hostile",
                    name=HOSTILE,
                    number="x",
                    org="YC",
                    roles=["hostile", "duty_operator"],
                    password=PASSWORD,
                ),
                now,
            )
    finally:
        engine.dispose()
    api = httpx.Client(
        base_url=center.base + "/api/v1", headers={"Authorization": f"Bearer {token}"}
    )

    def post(path: str, body: dict[str, Any], method: str = "POST") -> Any:
        answer = api.request(method, path, json=body, timeout=20)
        assert answer.status_code < 300, (path, answer.status_code, answer.text[:300])
        return answer.json() if answer.content else None

    hour_ago = (now - timedelta(hours=1)).isoformat()
    half_hour_ago = (now - timedelta(minutes=30)).isoformat()
    today = now.date().isoformat()
    post("/orgs", {"code": "XC", "name": HOSTILE, "kind": "county", "parent": "JC"})
    post("/mines", {"code": "XM", "name": HOSTILE, "org": "XC", "annual_capacity_t": 300000})
    post("/mines/XM/points", {"code": "B1", "name": HOSTILE, "kind": "belt"})
    post("/mines/FHS/points", {"code": "B9", "name": HOSTILE, "kind": "belt"})
    key = public_key_b64(generate_private_key())
    post("/mines/XM/stations", {"code": "S-XM", "public_key": key})
    camera = {"code": "CAM-X", "name": HOSTILE, "enabled": False}
    post("/mines/FHS/points/B1/cameras", {**camera, "snapshot_url": "http://127.0.0.1:9/x.jpg"})
    post("/fee-items", {"code": "XF", "name": HOSTILE, "description": HOSTILE})
    post("/mines/FHS/duty-log", {"text": HOSTILE})
    post("/mines/FHS/patrols", {"checked": HOSTILE, "findings": HOSTILE, "patrolled_by": HOSTILE})
    fault = post(
        "/mines/FHS/faults", {"point": "B1", "phenomenon": HOSTILE, "occurred_at": hour_ago}
    )
    post(f"/faults/{fault['id']}/report", {})
    post(f"/faults/{fault['id']}/close", {"result": HOSTILE})
    post("/mines/FHS/faults", {"phenomenon": HOSTILE, "occurred_at": hour_ago})
    post("/mines/FHS/permits", {"start": hour_ago, "end": half_hour_ago, "reason": HOSTILE})
    post("/mines/FHS/shutdowns", {"start": hour_ago, "end": half_hour_ago, "reason": HOSTILE})
    equipment = post(
        "/mines/FHS/ledger/equipment",
        {
            "kind": "belt_scale",
            "name": HOSTILE,
            "point": "B1",
            "model": HOSTILE,
            "manufacturer": HOSTILE,
            "serial": HOSTILE,
            "ma_mark": SHORT,
            "ex_certificate": SHORT,
            "note": HOSTILE,
        },
    )
    post(
        "/mines/FHS/ledger/maintenance",
        {
            "kind": "repair",
            "content": HOSTILE,
            "equipment": equipment["id"],
            "start": hour_ago,
            "performed_by": HOSTILE,
            "result": HOSTILE,
        },
    )
    post(
        "/mines/FHS/ledger/ups",
        {"tested_at": hour_ago, "minutes_on_backup": 30, "tested_by": HOSTILE, "note": HOSTILE},
    )
    post(
        "/mines/FHS/ledger/calibrations",
        {
            "point": "B1",
            "calibrated_on": today,
            "old_interval": "1",
            "first_actual_t": "10",
            "first_indicated_t": "10.1",
            "calibrated_by": HOSTILE,
            "witness": HOSTILE,
            "note": HOSTILE,
        },
    )
    half = {"effective_from": f"{now.year + 1}-01-01", "effective_to": f"{now.year + 1}-06-30"}
    post("/mines/FHS/coefficient-applications", {"percent": "4.5", "analysis": HOSTILE, **half})
    post(
        "/mines/DP/manual-entries",
        {
            "point": "B1",
            "start": hour_ago,
            "end": half_hour_ago,
            "gross_t": "10",
            "reason": HOSTILE,
        },
    )
    # a station's event with a detail of its own; its alarm is handled with a hostile result
    center.upload(
        "S-FHS",
        [{"ts": now, "type": "event", "point": "B1", "event": "power_off", "detail": HOSTILE}],
    )
    alarms = api.get("/alarms", params={"mine": "FHS"}, timeout=20).json()["items"]
    power_off = next(a for a in alarms if a["type"] == "power_off")
    post(f"/alarms/{power_off['id']}/ack", {})
    post(f"/alarms/{power_off['id']}/handle", {"result": HOSTILE})
    api.close()


def _pages() -> list[str]:
    menu = [item.href for items in PAGES.values() for item in items]
    return [*dict.fromkeys([*menu, *DETAILS])]


def test_hostile_values_are_shown_as_text_on_every_page(new_page: Any, center: Center) -> None:
    _store(center)
    page = new_page()
    dialogs: list[str] = []
    unexpected: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    def watch(request: Any) -> None:
        path = request.url.removeprefix(center.base)
        if (
            request.method != "GET"
            or not request.url.startswith(center.base)
            or path.split("?")[0].rstrip("/").endswith("/x")
        ):
            unexpected.append(f"{request.method} {request.url}")

    sign_in(page, "admin", ADMIN_PASSWORD)
    page.on("request", watch)
    shown: list[str] = []
    for path in _pages():
        page.goto(path)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # htmx's hx-trigger=load requests go out at once
        assert page.locator(INJECTED).count() == 0, path
        text = page.inner_text("body")
        if SVG in text:
            shown.append(path)
            assert TEMPLATE in text, path  # {{7*7}} as typed, never 49
    assert dialogs == [], dialogs
    assert unexpected == [], unexpected
    # the values were shown (escaped) on the pages that list them
    for path in (
        "/system/roles?role=hostile",
        "/system/users",
        "/system/orgs",
        "/system/mines?mine=XM",
        "/ledger/duty?mine=FHS",
        "/ledger/equipment?mine=FHS",
    ):
        assert path in shown, (path, shown)
