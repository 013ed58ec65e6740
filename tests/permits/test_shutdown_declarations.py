"""Shutdown declarations 停产报备 as the rules want them: a stop of 2 days or more (含2天)
needs its written report 书面报告 filed before it begins; a late declaration, or a report
filed after the stop began, is accepted, marked late and alarmed until the report is
there; resumption 复产 is asked by the mine and acknowledged by the supervising unit,
behind the checks other features register; production after a stop without that
acknowledgement is alarmed. The clock stands at 2026-03-15 12:00 in Asia/Shanghai."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from coalwatch.permits import service
from coalwatch.storage.models import Mine
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, local(2026, 3, 15, 12, 0), var_dir=tmp_path / "var") as w:
        w.mine("M1")
        yield w


def report(w: World, text: str = "停产书面报告") -> int:
    """A written report kept in the mine's archive: its document id."""
    answer = w.client.post(
        "/api/v1/mines/M1/archive",
        data={"kind": "shutdown_report", "title": text},
        files={"file": ("report.pdf", text.encode(), "application/pdf")},
        headers=w.headers(),
    )
    document: int = w.ok(answer)["id"]
    return document


def declare(w: World, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    body = {"start": start.isoformat(), "end": end.isoformat(), "reason": "停产检修", **extra}
    declared: dict[str, Any] = w.ok(w.post("/mines/M1/shutdowns", body))
    return declared


def late_alarms(w: World) -> list[dict[str, Any]]:
    return w.alarms(type="shutdown_declared_late")


def test_a_timely_stop_with_its_report_from_declaration_to_resumption(w: World) -> None:
    # 16 March 00:00 to 18 March 00:00: exactly 2 days (含2天), so the report is needed
    declared = declare(w, local(2026, 3, 16), local(2026, 3, 18), report_document=report(w))
    assert declared["needs_report"] and not declared["late"]
    assert declared["report_filed_at"] == "2026-03-15T04:00:00Z"
    w.clock.now = local(2026, 3, 16, 1, 0)
    w.tick()
    assert late_alarms(w) == []
    sid = declared["id"]
    acknowledged = w.ok(w.post(f"/mines/M1/shutdowns/{sid}/acknowledge", None))
    assert acknowledged["acknowledged_by"] is not None
    # the mine resumes early, on the 17th at 08:00, once the county acknowledges it
    w.ok(
        w.post(
            f"/mines/M1/shutdowns/{sid}/resume",
            {"resume_at": local(2026, 3, 17, 8, 0).isoformat()},
        )
    )
    resumed = w.ok(w.post(f"/mines/M1/shutdowns/{sid}/resumption/acknowledge", None))
    assert resumed["resumption_acknowledged_by"] is not None
    assert resumed["end"] == "2026-03-17T00:00:00Z"  # the stop ended at the resumption
    again = w.post(f"/mines/M1/shutdowns/{sid}/resumption/acknowledge", None)
    assert again.status_code == 409


def test_a_late_declaration_is_accepted_marked_late_and_alarmed_until_its_report(
    w: World,
) -> None:
    # the stop began on the 14th; declared on the 15th at 12:00 without its report
    declared = declare(w, local(2026, 3, 14), local(2026, 3, 20))
    assert declared["late"] and declared["needs_report"]
    [alarm] = late_alarms(w)
    assert alarm["end"] is None and alarm["params"]["what"] == "declaration"
    assert alarm["severity"] == "major"
    # declared at 12:00 on the 15th for a stop from the 14th, on the mine's clock
    assert (alarm["value"], alarm["threshold"]) == ("2026-03-15 12:00", "2026-03-14 00:00")
    assert (
        alarm["detail"] == "2026-03-14 00:00 起的停产 报备晚于停产开始（报备于 2026-03-15 12:00）"
    )
    w.clock.advance(hours=2)
    filed = w.ok(w.post(f"/mines/M1/shutdowns/{declared['id']}/report", {"document": report(w)}))
    assert filed["late"] and filed["report_filed_at"] == "2026-03-15T06:00:00Z"
    [alarm] = late_alarms(w)
    assert alarm["end"] == "2026-03-15T06:00:00Z"
    twice = w.post(f"/mines/M1/shutdowns/{declared['id']}/report", {"document": report(w)})
    assert twice.status_code == 409


def test_a_report_missing_when_the_stop_begins_makes_it_late(w: World) -> None:
    declared = declare(w, local(2026, 3, 16), local(2026, 3, 19))
    assert not declared["late"] and declared["report_document"] is None
    w.clock.now = local(2026, 3, 15, 23, 59)
    w.tick()
    assert late_alarms(w) == []
    w.clock.now = local(2026, 3, 16, 0, 1)
    w.tick()
    [alarm] = late_alarms(w)
    assert alarm["params"]["what"] == "report" and alarm["end"] is None
    (listed,) = w.ok(w.get("/mines/M1/shutdowns"))["items"]
    assert listed["late"]
    w.ok(w.post(f"/mines/M1/shutdowns/{declared['id']}/report", {"document": report(w)}))
    assert late_alarms(w)[0]["end"] is not None
    w.tick()
    assert len(late_alarms(w)) == 1


def test_a_stop_shorter_than_two_days_needs_no_report(w: World) -> None:
    declared = declare(w, local(2026, 3, 16), local(2026, 3, 17, 23, 59))
    assert not declared["needs_report"]
    w.clock.now = local(2026, 3, 16, 12, 0)
    w.tick()
    assert late_alarms(w) == []


def test_a_report_must_be_a_shutdown_report_of_the_mine(w: World) -> None:
    other = w.client.post(
        "/api/v1/mines/M1/archive",
        data={"kind": "system_diagram", "title": "示意图"},
        files={"file": ("d.pdf", b"d", "application/pdf")},
        headers=w.headers(),
    )
    body = {
        "start": local(2026, 3, 16).isoformat(),
        "end": local(2026, 3, 19).isoformat(),
        "reason": "检修",
        "report_document": w.ok(other)["id"],
    }
    refused = w.post("/mines/M1/shutdowns", body)
    assert refused.status_code == 422 and "shutdown_report" in refused.text
    assert w.ok(w.get("/mines/M1/shutdowns"))["items"] == []


def test_production_after_a_stop_needs_an_acknowledged_resumption(w: World) -> None:
    declared = declare(w, local(2026, 3, 16), local(2026, 3, 18), report_document=report(w))
    sid = declared["id"]
    refused = w.post(f"/mines/M1/shutdowns/{sid}/resumption/acknowledge", None)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_resumption"
    # production again on the 18th at 10:00, nobody acknowledged the resumption
    w.clock.now = local(2026, 3, 18, 10, 5)
    seqs = w.stations["S1"].seqs(2)
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(seqs[0], local(2026, 3, 18, 10, 0), "B1", "1"),
                totalizer(seqs[1], local(2026, 3, 18, 10, 1), "B1", "5"),
            ],
        )
    )
    w.tick()
    [alarm] = w.alarms(type="resumption_unacknowledged")
    assert alarm["end"] is None
    assert alarm["detail"] == "2026-03-18 00:00 停产结束后已有产量，复产未经监管单位确认"
    w.ok(
        w.post(
            f"/mines/M1/shutdowns/{sid}/resume",
            {"resume_at": local(2026, 3, 18, 10, 0).isoformat()},
        )
    )

    def not_accepted(session: Session, mine: Mine, now: datetime) -> str | None:
        return f"{mine.code} 的监控系统未经验收"

    service.add_resumption_check(not_accepted)
    try:
        blocked = w.post(f"/mines/M1/shutdowns/{sid}/resumption/acknowledge", None)
    finally:
        service.remove_resumption_check(not_accepted)
    assert blocked.status_code == 409
    assert blocked.json()["error"] == {
        "code": "resumption_refused",
        "message": "M1 的监控系统未经验收",
        "details": {"shutdown": sid},
    }
    w.ok(w.post(f"/mines/M1/shutdowns/{sid}/resumption/acknowledge", None))
    assert w.alarms(type="resumption_unacknowledged")[0]["end"] is not None
