"""The alarm console's pages (当前报警 / 报警确认与处理, 报警查询), server side: acknowledging
several alarms at once (on SQLite and PostgreSQL); texts composed in the reader's language
(an alarm's detail, a fault's phenomenon, a password rule, a refusal) and exports with
figures as numbers and codes as labels (on SQLite: not a matter of the database).

The world's clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from coalwatch.domain.alarms import compose_phenomenon, detail_params
from coalwatch.web.i18n import translations
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, world
from tests.web.test_accounts import PASSWORD, _csrf, _signed_in


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.mine("M1", org="C1", station="S1", belts=("B1", "B2", "B3"))
        w.users([("op1", "C1", ["duty_operator"]), ("reg", "C1", ["regulator"])], PASSWORD)
        yield w


def _power_off_on_three_points(w: World) -> dict[str, int]:
    """Three open 停电 alarms, one per point: point → alarm id."""
    records = [
        {"seq": seq, "ts": w.clock(), "type": "event", "point": point, "event": "power_off"}
        for seq, point in enumerate(("B1", "B2", "B3"), start=1)
    ]
    assert w.upload("S1", records).status_code == 200
    return {a["point"]: a["id"] for a in w.alarms(type="power_off")}


def _states(w: World) -> dict[str, tuple[str, str | None]]:
    return {a["point"]: (a["state"], a["acknowledged_by"]) for a in w.alarms(type="power_off")}


def _bulk(client: TestClient, ids: list[int], token: str | None) -> object:
    data: dict[str, object] = {"ids": [str(i) for i in ids]}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/alarms/ack", data=data, follow_redirects=False)


def test_the_console_acknowledges_the_checked_alarms_in_one_action(w: World) -> None:
    ids = _power_off_on_three_points(w)
    operator = _signed_in(w, "op1")
    page = operator.get("/alarms")
    assert page.status_code == 200
    # one box per unacknowledged alarm, in the bulk form, and a box that ticks them all
    for alarm_id in ids.values():
        assert f'name="ids" value="{alarm_id}" form="bulk-ack"' in page.text
    assert 'data-select-all="ids"' in page.text and 'id="bulk-ack"' in page.text
    token = _csrf(operator, "/alarms")

    done = _bulk(operator, [ids["B1"], ids["B3"]], token)
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert _states(w) == {
        "B1": ("acknowledged", "op1"),
        "B2": ("active", None),
        "B3": ("acknowledged", "op1"),
    }
    # the flash message counts them
    assert "已确认 2 条报警" in operator.get("/alarms").text
    # an acknowledged alarm has no box any more; the other one still has
    page = operator.get("/alarms").text
    assert f'value="{ids["B1"]}" form="bulk-ack"' not in page
    assert f'value="{ids["B2"]}" form="bulk-ack"' in page


def test_bulk_acknowledge_is_all_or_none_needs_the_permission_and_the_csrf_token(
    w: World,
) -> None:
    ids = _power_off_on_three_points(w)
    operator = _signed_in(w, "op1")
    token = _csrf(operator, "/alarms")
    assert _bulk(operator, [ids["B1"]], None).status_code == 403  # type: ignore[attr-defined]
    regulator = _signed_in(w, "reg")
    refused = _bulk(regulator, [ids["B1"]], _csrf(regulator, "/alarms"))
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "alarm:write" in refused.text  # type: ignore[attr-defined]
    assert "bulk-ack" not in regulator.get("/alarms").text  # no boxes without the permission
    assert {state for state, _ in _states(w).values()} == {"active"}

    _bulk(operator, [ids["B2"]], token)
    # B2 is acknowledged already: the request is refused and B1 stays unacknowledged
    conflict = _bulk(operator, [ids["B1"], ids["B2"]], token)
    assert conflict.status_code == 409  # type: ignore[attr-defined]
    assert _states(w)["B1"] == ("active", None)
    # nothing ticked: a message, nothing done
    empty = operator.post("/alarms/ack", data={"csrf_token": token})
    assert empty.status_code == 200 and "请先选择要确认的报警" in empty.text


# ---- one language per page ----------------------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")


def _overproduce(w: World) -> None:
    """A = 330,000 t/a gives H = 330,000 / 330 / 16 = 62.5 t; 166.5 - 100 = 66.5 t in the
    hour from 10:00: a 时超产 with an excess of 66.5 - 62.5 = 4.000 t."""
    records = [
        {"seq": 1, "ts": datetime(2026, 3, 15, 10, 0, tzinfo=SH), "type": "totalizer",
         "point": "B1", "total_t": Decimal("100")},
        {"seq": 2, "ts": datetime(2026, 3, 15, 10, 59, tzinfo=SH), "type": "totalizer",
         "point": "B1", "total_t": Decimal("166.5")},
    ]  # fmt: skip
    assert w.upload("S1", records).status_code == 200
    assert [a["type"] for a in w.alarms()] == ["overproduction_hour"]


def _english(client: TestClient) -> None:
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": _csrf(client, "/alarms")})


@SQLITE_ONLY
def test_an_alarm_detail_and_its_figures_are_in_the_pages_language_only(w: World) -> None:
    _overproduce(w)
    operator = _signed_in(w, "op1")
    page = operator.get("/alarms").text
    assert "超产产量 4.000 t" in page and "excess" not in page
    _english(operator)
    page = operator.get("/alarms").text
    assert 'lang="en"' in page
    assert "excess 4.000 t" in page and "超产产量" not in page
    # the API keeps the figures as data (and a Chinese text for the integrators)
    [alarm] = w.alarms()
    assert alarm["params"] == {"code": "excess", "excess": "4.000"}
    assert (alarm["value"], alarm["threshold"]) == ("66.500", "62.500")


@SQLITE_ONLY
def test_a_fault_the_system_opened_reads_in_the_pages_language(w: World) -> None:
    # the station is heard at 12:00, then silent: 3 minutes later (comm_loss_minutes)
    # the timed rules raise 通信中断, which opens a fault record by itself
    assert w.upload("S1", [{"seq": 1, "ts": w.clock(), "type": "heartbeat"}]).status_code == 200
    w.clock.advance(minutes=5)
    w.tick()
    [alarm] = w.alarms(type="comm_interruption")
    assert alarm["params"]["code"] == "silent"
    operator = _signed_in(w, "op1")
    page = operator.get("/query/faults").text
    assert "通信中断 主站 S1 自" in page and "nothing since" not in page
    _english(operator)
    page = operator.get("/query/faults").text
    assert "station S1: nothing since" in page and "主站 S1" not in page
    # a camera's fault as the video checks record it (down / black / frozen)
    params = detail_params("camera", camera="B1 摄像机 (CAM1)", health="black")
    english = translations("en").gettext
    assert compose_phenomenon("camera_fault", params) == "摄像机故障 B1 摄像机 (CAM1)：画面黑屏"
    assert compose_phenomenon("camera_fault", params, english) == (
        "Camera fault B1 摄像机 (CAM1): picture is black"  # the camera's name is data
    )


@SQLITE_ONLY
def test_a_password_rule_and_a_refusal_are_in_the_pages_language_only(w: World) -> None:
    operator = _signed_in(w, "op1")
    weak = {"old": PASSWORD, "new": "short", "again": "short"}
    refused = operator.post("/password", data={**weak, "csrf_token": _csrf(operator, "/password")})
    assert refused.status_code == 422
    assert "密码至少 10 位" in refused.text and "characters" not in refused.text
    forbidden = operator.get("/system/params")  # the duty operator may not view 系统参数
    assert forbidden.status_code == 403
    assert "权限不足：需要 system:view 权限" in forbidden.text
    assert "permission denied" not in forbidden.text.lower()

    _english(operator)
    refused = operator.post("/password", data={**weak, "csrf_token": _csrf(operator, "/password")})
    assert refused.status_code == 422
    assert "at least 10 characters" in refused.text and "密码至少" not in refused.text
    forbidden = operator.get("/system/params")
    assert "Permission denied: system:view is required" in forbidden.text
    assert "权限不足" not in forbidden.text


def _sheet(client: TestClient) -> list[tuple[Any, ...]]:
    answer = client.get("/query/alarms", params={"format": "xlsx"})
    assert answer.status_code == 200, answer.text
    book = load_workbook(io.BytesIO(answer.content))
    return list(book.active.iter_rows(values_only=True))


@SQLITE_ONLY
def test_the_alarm_export_has_numbers_as_numbers_and_codes_as_labels(w: World) -> None:
    _overproduce(w)
    operator = _signed_in(w, "op1")
    header, row = _sheet(operator)
    got = dict(zip(header, row, strict=True))
    assert (got["级别"], got["类型"], got["状态"]) == ("一般", "时超产", "未确认")
    # numeric cells: 66.5 t raw against H = 62.5 t
    assert (got["数值"], got["阈值"], got["单位"]) == (66.5, 62.5, "t")
    assert got["说明"] == "超产产量 4.000 t"
    csv_text = operator.get("/query/alarms", params={"format": "csv"}).content.decode("utf-8-sig")
    assert "66.500" in csv_text and "一般" in csv_text and ",warning," not in csv_text

    _english(operator)
    header, row = _sheet(operator)
    got = dict(zip(header, row, strict=True))
    assert (got["Severity"], got["State"]) == ("Warning", "Unacknowledged")
    assert (got["Value"], got["Threshold"], got["Unit"]) == (66.5, 62.5, "t")
    assert got["Detail"] == "excess 4.000 t"
