"""The alarm console's pages (当前报警 / 报警确认与处理), server side, on SQLite and PostgreSQL:
acknowledging several alarms at once.

The world's clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

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
