"""The duty log, patrols and shift handovers through the API, on SQLite and PostgreSQL
(the rules a handover is checked against, on SQLite).
Default shifts (夜班 00–08, 早班 08–16, 中班 16–24) in Asia/Shanghai (UTC+8)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from coalwatch.auth.service import create_token
from coalwatch.domain.duty import CHECK_CODES
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, world

#: 08:30 in Shanghai on 15 March: the 早班 has just begun
START = datetime(2026, 3, 15, 0, 30, tzinfo=UTC)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url, now=START) as w:
        w.mine("M1")
        yield w


def named(w: World, name: str) -> str:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        token = create_token(session, name, None, True, w.clock())
    engine.dispose()
    return token


def shifts(w: World) -> dict[str, dict[str, Any]]:
    items = w.ok(w.get("/mines/M1/shifts", **{"from": "2026-03-15", "to": "2026-03-15"}))["items"]
    return {item["shift"]: item for item in items}


def patrol(w: World, at: str, token: str | None = None) -> dict[str, Any]:
    body = {"at": at, "point": "B1", "checked": "控制箱、计量端、传感器", "findings": "无异常"}
    answer = w.post("/mines/M1/patrols", body, token=token)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_shift_with_fewer_than_two_patrols_is_flagged_when_it_ends(w: World) -> None:
    first = patrol(w, "2026-03-15T08:25:00+08:00")
    assert (first["shift_day"], first["shift"]) == ("2026-03-15", "早班")
    before = shifts(w)
    # the 夜班 (00:00–08:00) has ended without a patrol; the 早班 runs, the 中班 is to come
    assert before["夜班"]["patrols_short"] is True and before["夜班"]["ended"] is True
    assert before["早班"]["patrols"] == 1 and before["早班"]["patrols_short"] is False
    assert "中班" not in before
    w.clock.now = datetime(2026, 3, 15, 7, 59, 59, tzinfo=UTC)  # 15:59:59 local
    assert shifts(w)["早班"]["patrols_short"] is False
    w.clock.now = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)  # 16:00:00 local: it has ended
    after = shifts(w)
    assert after["早班"]["ended"] is True and after["早班"]["patrols_short"] is True
    # a patrol at 16:00 belongs to the 中班, not to the 早班
    assert patrol(w, "2026-03-15T16:00:00+08:00")["shift"] == "中班"
    assert shifts(w)["早班"]["patrols_short"] is True
    # the second patrol of the 早班, written late: the flag goes
    patrol(w, "2026-03-15T15:30:00+08:00")
    final = w.ok(w.get("/mines/M1/shifts", **{"from": "2026-03-15", "to": "2026-03-15"}))
    by_shift = {i["shift"]: i for i in final["items"]}
    assert by_shift["早班"]["patrols"] == 2 and by_shift["早班"]["patrols_short"] is False
    assert final["short"] == 1  # the 夜班
    listed = w.ok(w.get("/mines/M1/patrols", **{"from": "2026-03-15", "to": "2026-03-15"}))
    assert listed["total"] == 3


def test_duty_log_entries_fall_in_their_shift(w: World) -> None:
    entry = w.ok(w.post("/mines/M1/duty-log", {"text": "系统运行正常，B1 皮带秤数据上传正常"}))
    assert (entry["shift_day"], entry["shift"], entry["at"]) == (
        "2026-03-15",
        "早班",
        "2026-03-15T00:30:00Z",
    )
    late = w.ok(
        w.post("/mines/M1/duty-log", {"at": "2026-03-15T07:59:59+08:00", "text": "交班前检查"})
    )
    assert late["shift"] == "夜班"
    future = w.post("/mines/M1/duty-log", {"at": "2026-03-15T09:00:00+08:00", "text": "x"})
    assert future.status_code == 422 and "future" in future.json()["error"]["message"]
    blank = w.post("/mines/M1/duty-log", {"text": "   "})
    assert blank.status_code == 422
    page = w.ok(w.get("/mines/M1/duty-log", size=1, **{"from": "2026-03-15", "to": "2026-03-15"}))
    assert page["total"] == 2 and page["items"][0]["text"].startswith("系统运行正常")
    assert shifts(w)["早班"]["entries"] == 1


def _checks(**bad: str) -> list[dict[str, Any]]:
    return [{"item": code, "ok": code not in bad, "note": bad.get(code)} for code in CHECK_CODES]


def test_handover_signed_by_both_sides_and_pending_issues_carried(w: World) -> None:
    zhang, wang, li = named(w, "zhang"), named(w, "wang"), named(w, "li")
    w.clock.now = datetime(2026, 3, 15, 7, 50, tzinfo=UTC)  # 15:50 local, end of the 早班
    body = {
        "incoming": "token:wang",
        "checks": _checks(network="上传延迟 2 分钟，已联系县中心"),
        "issues": ["B1 皮带跑偏待处理"],
    }
    first = w.post("/mines/M1/handovers", body, token=zhang)
    assert first.status_code == 201, first.text
    h1 = first.json()
    assert (h1["shift"], h1["outgoing"], h1["state"], h1["next_signer"]) == (
        "早班",
        "token:zhang",
        "outgoing_signed",
        "incoming",
    )
    assert [c["ok"] for c in h1["checks"]] == [True, False, True, True, True]
    assert w.post("/mines/M1/handovers", body, token=zhang).status_code == 409
    wrong = w.post(f"/handovers/{h1['id']}/sign", {}, token=zhang)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "not_the_signer"
    signed = w.ok(w.post(f"/handovers/{h1['id']}/sign", {"note": "已接班"}, token=wang))
    assert signed["state"] == "complete" and signed["next_signer"] is None
    assert w.post(f"/handovers/{h1['id']}/sign", {}, token=wang).status_code == 409
    # the 中班 (16:00–24:00): its handover carries the unresolved issue in
    w.clock.now = datetime(2026, 3, 15, 15, 50, tzinfo=UTC)  # 23:50 local
    carried = w.ok(w.get("/mines/M1/handovers/carried", token=wang))["items"]
    assert [i["text"] for i in carried] == ["B1 皮带跑偏待处理"]
    h2 = w.ok(
        w.post(
            "/mines/M1/handovers",
            {"incoming": "token:li", "checks": _checks()},
            token=wang,
        )
    )
    assert h2["shift"] == "中班"
    assert [(i["text"], i["resolved"], i["carried_from"]) for i in h2["issues"]] == [
        ("B1 皮带跑偏待处理", False, carried[0]["id"])
    ]
    w.ok(w.post(f"/handovers/{h2['id']}/sign", {}, token=li))
    # the 夜班 of the 16th resolves it; the next handover carries nothing
    w.clock.now = datetime(2026, 3, 15, 23, 50, tzinfo=UTC)  # 07:50 on the 16th, local
    issue = h2["issues"][0]["id"]
    h3 = w.ok(
        w.post(
            "/mines/M1/handovers",
            {
                "incoming": "token:zhang",
                "checks": _checks(),
                "resolved": [{"issue": issue, "resolution": "已调整托辊"}],
            },
            token=li,
        )
    )
    assert (h3["shift_day"], h3["shift"]) == ("2026-03-16", "夜班")
    assert h3["issues"][0]["resolved"] is True and h3["issues"][0]["resolution"] == "已调整托辊"
    w.clock.now = datetime(2026, 3, 16, 7, 50, tzinfo=UTC)
    assert w.ok(w.get("/mines/M1/handovers/carried"))["items"] == []
    listed = w.ok(w.get("/mines/M1/handovers", **{"from": "2026-03-15", "to": "2026-03-16"}))
    assert [h["shift"] for h in listed["items"]] == ["夜班", "中班", "早班"]
    assert shifts(w)["早班"]["handover_state"] == "complete"


@SQLITE_ONLY
def test_handovers_that_break_the_rules_are_refused(w: World) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"incoming": "wang", "checks": _checks()[:4]}, 422, "checks"),
        ({"incoming": "wang", "checks": _checks(records="")}, 422, "say why"),
        ({"incoming": "token:test", "checks": _checks()}, 422, "someone other"),
        ({"incoming": "wang", "checks": _checks(), "shift": "早班"}, 422, "both"),
        (
            {"incoming": "wang", "checks": _checks(), "shift": "午班", "shift_day": "2026-03-15"},
            422,
            "no shift",
        ),
        (
            {"incoming": "wang", "checks": _checks(), "shift": "中班", "shift_day": "2026-03-15"},
            422,
            "not begun",
        ),
        (
            {"incoming": "wang", "checks": _checks(), "resolved": [{"issue": 99}]},
            422,
            "not pending",
        ),
    ]
    for body, status, message in cases:
        answer = w.post("/mines/M1/handovers", body)
        assert answer.status_code == status, (body, answer.text)
        assert message in answer.text, (body, answer.text)
    reader = w.token_for(None, write=False)
    answer = w.post("/mines/M1/handovers", {"incoming": "wang", "checks": _checks()}, token=reader)
    assert answer.status_code == 403
    assert w.get("/handovers/1").status_code == 404
