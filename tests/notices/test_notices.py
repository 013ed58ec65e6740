"""Rectification notices 整改通知书 and instructions 指令 at one center, through their whole
life: issued by the county C1 to a mine, acknowledged and answered by the mine, a notice
sent back and verified; overdue (unacknowledged after the acknowledgement time,
unanswered after the deadline) alarmed at the mine, seen by both sides, ending as the
mine acts. The timed rule runs at the world's clock (``World.tick``), no sleeping.

Tree: SX province → C1 county → X1 company → M1, M2 mines; C2 county (no mines).
Clock: 2026-03-15 04:00 UTC (12:00 Asia/Shanghai)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.documents import pdf_text
from tests.support.world import World, trip, world

PDF_BYTES = b"%PDF-1.4 rectification record\n"


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url) as w:
        w.ok(w.post("/orgs", {"code": "SX", "name": "山西省", "kind": "province"}))
        for county in ("C1", "C2"):
            body = {"code": county, "name": f"{county} 县煤炭局", "kind": "county", "parent": "SX"}
            w.ok(w.post("/orgs", body))
        w.ok(w.post("/orgs", {"code": "X1", "name": "X1 煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="X1", belts=(), trips=("K1",), station="S1")
        w.mine("M2", org="X1", belts=(), trips=(), station=None)
        yield w


def tokens(w: World) -> dict[str, str]:
    return {scope: w.token_for(scope, write=True) for scope in ("C1", "C2", "X1")}


def overproduction(w: World) -> int:
    """A trip of 100 t in the hour: M1's hourly limit is 330,000 / 330 / 16 = 62.5 t."""
    (seq,) = w.stations["S1"].seqs(1)
    w.ok(w.upload("S1", [trip(seq, w.clock() - timedelta(minutes=10), "K1", 100)]))
    (alarm,) = w.alarms(type="overproduction_hour")
    return int(alarm["id"])


def at(w: World, **delta: float) -> str:
    return (w.clock() + timedelta(**delta)).isoformat()


def overdue(w: World, token: str, kind: str) -> list[tuple[str, str, bool]]:
    """(mine, stage, still open) of the overdue alarms the token sees."""
    return sorted(
        (a["mine"], a["params"]["stage"], a["end"] is None)
        for a in w.ok(w.get("/alarms", token, type=f"{kind}_overdue"))["items"]
    )


def audit_actions(w: World, number: str) -> list[str]:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        actions = list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity_key == number)
                .order_by(AuditEntry.id)
            )
        )
    engine.dispose()
    return actions


def notice_body(alarm_id: int, w: World, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "notice",
        "mine": "M1",
        "title": "超能力生产整改",
        "problem": "3月15日11时原煤产量超过小时生产能力",
        "measures": "立即按核定能力组织生产，查明原因并报送整改报告",
        "deadline": at(w, days=3),
        "cites": [
            {"kind": "alarm", "ref": str(alarm_id)},
            {"kind": "finding", "label": "现场检查：调度台账未记录超产"},
        ],
        "attachments": [
            {
                "name": "检查记录.pdf",
                "media_type": "application/pdf",
                "content_b64": base64.b64encode(PDF_BYTES).decode(),
            }
        ],
        **extra,
    }


def test_a_notice_through_its_whole_life(w: World) -> None:
    t = tokens(w)
    alarm_id = overproduction(w)
    issued = w.ok(w.post("/notices", notice_body(alarm_id, w), t["C1"]))
    number = issued["number"]
    assert number == "C1-ZG-2026-001"
    assert issued["issuer_unit"] == "C1 C1 县煤炭局"
    assert [c["kind"] for c in issued["cites"]] == ["alarm", "finding"]
    assert issued["cites"][0]["label"].startswith("时超产 #")
    (m1,) = issued["recipients"]
    assert (m1["mine"], m1["state"], m1["overdue"]) == ("M1", "issued", [])
    # acknowledgement due 2 h after issue (the default), the deadline as given
    assert m1["ack_due"] == "2026-03-15T06:00:00Z"
    assert m1["deadline"] == "2026-03-18T04:00:00Z"

    # the mine sees it, and cannot answer before acknowledging
    assert [n["number"] for n in w.ok(w.get("/notices", t["X1"]))["items"]] == [number]
    early = w.post(f"/notices/{number}/answer", {"answer": "已整改"}, t["X1"])
    assert early.status_code == 409, early.text

    # 1 h 59 min: nothing overdue; 2 h: unacknowledged, alarmed at the mine for both sides
    w.clock.advance(hours=1, minutes=59)
    w.tick()
    assert overdue(w, t["C1"], "notice") == []
    w.clock.advance(minutes=1)
    w.tick()
    assert overdue(w, t["C1"], "notice") == [("M1", "unacknowledged", True)]
    assert overdue(w, t["X1"], "notice") == [("M1", "unacknowledged", True)]
    assert w.ok(w.get(f"/notices/{number}", t["C1"]))["recipients"][0]["overdue"] == [
        "unacknowledged"
    ]
    assert [n["number"] for n in w.ok(w.get("/notices", t["C1"], overdue="true"))["items"]] == [
        number
    ]

    # the duty operator acknowledges: the alarm ends
    acked = w.ok(
        w.post(f"/notices/{number}/ack", {"passed_to": "调度室 王某；生产矿长 李某"}, t["X1"])
    )
    assert acked["recipients"][0]["state"] == "acknowledged"
    assert overdue(w, t["C1"], "notice") == [("M1", "unacknowledged", False)]

    # the mine answers with a file; the county sends it back with a new deadline
    w.clock.advance(hours=20)
    answer = {
        "answer": "已调整生产计划",
        "attachments": [
            {
                "name": "整改报告.pdf",
                "media_type": "application/pdf",
                "content_b64": base64.b64encode(PDF_BYTES + b"2").decode(),
            }
        ],
    }
    answered = w.ok(w.post(f"/notices/{number}/answer", answer, t["X1"]))
    (m1,) = answered["recipients"]
    assert m1["state"] == "answered" and [a["name"] for a in m1["attachments"]] == ["整改报告.pdf"]
    file = w.get(f"/notices/{number}/attachments/{m1['attachments'][0]['id']}", t["C1"])
    assert file.status_code == 200 and file.content == PDF_BYTES + b"2"
    # the mine cannot verify its own rectification
    own = w.post(f"/notices/{number}/verify", {}, t["X1"])
    assert own.status_code == 403, own.text
    back = {"reason": "未附调度台账", "deadline": at(w, days=1)}
    returned = w.ok(w.post(f"/notices/{number}/return", back, t["C1"]))
    assert returned["recipients"][0]["state"] == "returned"
    assert returned["recipients"][0]["returns"] == 1

    # past the new deadline unanswered: alarmed; the second answer ends it
    w.clock.advance(days=1)
    w.tick()
    assert overdue(w, t["C1"], "notice") == [
        ("M1", "unacknowledged", False),
        ("M1", "unanswered", True),
    ]
    w.ok(w.post(f"/notices/{number}/answer", {"answer": "已补充调度台账"}, t["X1"]))
    assert overdue(w, t["X1"], "notice") == [
        ("M1", "unacknowledged", False),
        ("M1", "unanswered", False),
    ]
    closed = w.ok(w.post(f"/notices/{number}/verify", {"note": "复查合格"}, t["C1"]))
    (m1,) = closed["recipients"]
    assert (m1["state"], m1["verified_by"], m1["verdict_note"]) == (
        "closed",
        "token:test",
        "复查合格",
    )
    again = w.post(f"/notices/{number}/verify", {}, t["C1"])
    assert again.status_code == 409
    assert w.ok(w.get("/notices", t["C1"], open="true"))["items"] == []

    assert audit_actions(w, number) == [
        "notice.issue",
        "notice.ack",
        "notice.answer",
        "notice.return",
        "notice.answer",
        "notice.verify",
    ]

    # the printable notice, read back
    response = w.get(f"/notices/{number}/pdf", t["C1"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text, fonts = pdf_text(response.content)
    for expected in (
        "整改通知书",
        number,
        "C1 县煤炭局",
        "M1 矿",
        "超过小时生产能力",
        "立即按核定能力组织生产",
        "现场检查：调度台账未记录超产",
        "2026-03-15 12:00",  # issued, local time
        "2026-03-18 12:00",  # the deadline as given at issue: 3 days on, local time
        "签收人",
        "验收人",
        "复查合格",
    ):
        assert expected in text, expected
    assert "CID" in fonts or "Type 0" in fonts or "TrueType" in fonts


def test_an_instruction_to_every_mine_of_a_unit(w: World) -> None:
    t = tokens(w)
    body = {
        "kind": "instruction",
        "org": "C1",
        "title": "汛期安全生产",
        "problem": "各矿于3月18日前检查监控系统备用电源并反馈",
        "deadline": at(w, days=3),
        "ack_hours": 1,
    }
    issued = w.ok(w.post("/notices", body, t["C1"]))
    number = issued["number"]
    assert number == "C1-ZL-2026-001" and issued["org"] == "C1"
    assert [r["mine"] for r in issued["recipients"]] == ["M1", "M2"]

    # M1 acknowledges at once and answers: done there (an instruction has no verification)
    w.ok(w.post(f"/notices/{number}/ack", {"mine": "M1", "passed_to": "调度室"}, t["X1"]))
    done = w.ok(w.post(f"/notices/{number}/answer", {"mine": "M1", "answer": "已检查"}, t["X1"]))
    states = {r["mine"]: r["state"] for r in done["recipients"]}
    assert states == {"M1": "closed", "M2": "issued"}
    # two mines seen: the mine must be named
    unnamed = w.post(f"/notices/{number}/ack", {}, t["X1"])
    assert unnamed.status_code == 422, unnamed.text

    # M2 says nothing: unacknowledged after 1 h, unanswered after the deadline
    w.clock.advance(hours=1)
    w.tick()
    assert overdue(w, t["C1"], "instruction") == [("M2", "unacknowledged", True)]
    w.clock.advance(days=3)
    w.tick()
    assert overdue(w, t["C1"], "instruction") == [
        ("M2", "unacknowledged", True),
        ("M2", "unanswered", True),
    ]
    listed = w.ok(w.get("/notices", t["C1"], overdue="true", kind="instruction"))["items"]
    assert [r["overdue"] for r in listed[0]["recipients"]] == [[], ["unacknowledged", "unanswered"]]
    w.ok(w.post(f"/notices/{number}/ack", {"mine": "M2"}, t["X1"]))
    assert overdue(w, t["C1"], "instruction") == [
        ("M2", "unacknowledged", False),
        ("M2", "unanswered", True),
    ]
    w.ok(w.post(f"/notices/{number}/answer", {"mine": "M2", "answer": "已检查"}, t["X1"]))
    assert overdue(w, t["C1"], "instruction") == [
        ("M2", "unacknowledged", False),
        ("M2", "unanswered", False),
    ]
    verify = w.post(f"/notices/{number}/verify", {"mine": "M2"}, t["C1"])
    assert verify.status_code == 409  # an instruction is not verified
    assert audit_actions(w, number) == [
        "instruction.issue",
        "instruction.ack",
        "instruction.answer",
        "instruction.ack",
        "instruction.answer",
    ]


def test_only_a_supervising_unit_of_the_mine_issues(w: World) -> None:
    t = tokens(w)
    alarm_id = overproduction(w)
    # the mine's own staff (the company X1) may not issue to themselves
    own = w.post("/notices", notice_body(alarm_id, w), t["X1"])
    assert own.status_code == 403, own.text
    assert own.json()["error"]["details"] == {
        "permission": "region:notice",
        "unit": "C1",
        "unit_name": "C1 县煤炭局",
    }
    instruction = {
        "kind": "instruction",
        "mine": "M1",
        "title": "t",
        "problem": "p",
        "deadline": at(w, days=1),
    }
    assert w.post("/notices", instruction, t["X1"]).status_code == 403
    # a unit outside the mine's branch does not even see it
    other = w.post("/notices", notice_body(alarm_id, w), t["C2"])
    assert other.status_code == 404, other.text
    assert (
        w.post("/notices", {**instruction, "mine": None, "org": "C1"}, t["C2"]).status_code == 404
    )
    # a regulator's user of C1 lacking the permission (a read token)
    read = w.token_for("C1", write=False)
    assert w.post("/notices", notice_body(alarm_id, w), read).status_code == 403
    assert w.ok(w.get("/notices", t["C1"]))["items"] == []


def test_bad_input_is_refused_with_a_message(w: World) -> None:
    t = tokens(w)
    alarm_id = overproduction(w)

    def refused(body: dict[str, Any], status: int = 422) -> str:
        response = w.post("/notices", body, t["C1"])
        assert response.status_code == status, response.text
        return str(response.json()["error"]["message"])

    assert "deadline" in refused(notice_body(alarm_id, w, deadline=at(w, hours=-1)))
    assert "deadline" in refused(notice_body(alarm_id, w, deadline=at(w, days=400)))
    assert "cites" in refused(notice_body(alarm_id, w, cites=[]))
    assert "measures" in refused(notice_body(alarm_id, w, measures=None))
    assert "alarm" in refused(notice_body(alarm_id, w, cites=[{"kind": "alarm", "ref": "999"}]))
    assert "ref" in refused(notice_body(alarm_id, w, cites=[{"kind": "fault"}]))
    bad_file = {"name": "x.pdf", "media_type": "application/pdf", "content_b64": "!!"}
    assert "base64" in refused(notice_body(alarm_id, w, attachments=[bad_file]))
    exe = {"name": "x.exe", "media_type": "application/x-msdownload", "content_b64": "TVo="}
    assert "media_type" in refused(notice_body(alarm_id, w, attachments=[exe]))
    assert "mine" in refused(notice_body(alarm_id, w, org="C1"))
    assert "mine" in refused(notice_body(alarm_id, w, mine="NOPE"), 404)
    naive = "2026-03-20T12:00:00"
    assert "offset" in refused(notice_body(alarm_id, w, deadline=naive))
    assert w.post("/notices/NOPE-1/ack", {}, t["X1"]).status_code == 404
    assert w.get("/notices/bad number", t["X1"]).status_code == 422
    # nothing half-written: no document exists
    assert w.ok(w.get("/notices", t["C1"]))["items"] == []
