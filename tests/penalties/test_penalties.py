"""Penalty records 处罚决定 through their whole life on the center (SQLite): the county
records a decision on the article's ranges (never the mine, never outside them), links
the mine's own evidence, attaches a picture, records the execution; the reports per
period and mine, their downloads, and the printable decision read back from its PDF.
Asia/Shanghai (UTC+8)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.storage.session import transaction
from tests.duty.pages import PASSWORD, csrf, people
from tests.support.documents import pdf_text, xlsx_rows
from tests.support.world import World, world

NUMBER = "襄煤罚〔2026〕1号"


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    # 2026-03-15 10:00 in Shanghai
    with world(sqlite_url, now=datetime(2026, 3, 15, 2, 0, tzinfo=UTC)) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "襄垣县煤炭局", "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "CO1", "name": "煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="CO1")
        w.mine("M2", org="CO1", station="S2")
        for station in ("S1", "S2"):
            event = {
                "seq": 1,
                "ts": w.clock(),
                "type": "event",
                "point": "B1",
                "event": "power_off",
            }
            w.ok(w.upload(station, [event]))
        yield w


def serious(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": NUMBER,
        "mine": "M1",
        "offence": "made_inoperable",
        "manner": "line_power",
        "facts": "3月15日该矿人为切断称重组件电源线，造成监控设备断电。",
        "found_on": "2026-03-15",
        "serious": True,
        "enterprise_fine": "50000",
        "principal_name": "张矿长",
        "principal_fine": "10000",
        "responsible_name": "李电工",
        "responsible_fine": "5000",
        "stop_for_rectification": True,
        "decided_on": "2026-03-15",
    }
    body.update(changes)
    return body


def ids(w: World, mine: str) -> tuple[int, int]:
    """The mine's power_off alarm and the fault record it opened."""
    (alarm,) = w.alarms(mine=mine, type="power_off")
    (fault,) = w.ok(w.get("/faults", mine=mine))["items"]
    return alarm["id"], fault["id"]


def test_a_penalty_decision_from_its_record_to_its_execution(w: World) -> None:
    county = w.token_for("C1", write=True)
    mine = w.token_for("CO1", write=True)
    alarm, fault = ids(w, "M1")
    other_alarm, _ = ids(w, "M2")
    evidence = [
        {"kind": "alarm", "ref": str(alarm), "note": "停电报警"},
        {"kind": "fault", "ref": str(fault)},
        {"kind": "record", "ref": "S1:1"},
    ]

    # the mine's own people never record a penalty
    refused = w.post("/penalties", serious(evidence=evidence), mine)
    assert refused.status_code == 403, refused.text
    # outside the article: the enterprise below 30,000, a person above the range, a
    # serious case without the persons, orders in a case not serious, no way named
    for wrong in (
        {"enterprise_fine": "29999.99"},
        {"principal_fine": "10000.01"},
        {"responsible_fine": "2999"},
        {"principal_name": None},
        {"serious": False, "principal_fine": None, "responsible_fine": None},
        {"manner": None},
        {"enterprise_fine": "40000.001"},
    ):
        answer = w.post("/penalties", serious(**wrong), county)
        assert answer.status_code == 422, (wrong, answer.text)
    # evidence of another mine is not this mine's
    foreign = w.post(
        "/penalties", serious(evidence=[{"kind": "alarm", "ref": str(other_alarm)}]), county
    )
    assert foreign.status_code == 422, foreign.text

    first = w.ok(w.post("/penalties", serious(evidence=evidence), county))
    # 50,000 + 10,000 + 5,000
    assert (first["total_fine"], first["status"], first["unit"]) == (65000, "decided", "C1")
    assert [e["kind"] for e in first["evidence"]] == ["alarm", "fault", "record"]
    duplicate = w.post("/penalties", serious(), county)
    assert duplicate.status_code == 409, duplicate.text
    second = w.ok(
        w.post(
            "/penalties",
            {
                "number": "襄煤罚〔2026〕2号",
                "mine": "M1",
                "offence": "overproduction_not_corrected",
                "facts": "3月日产量持续超过核定能力，未予纠正。",
                "found_on": "2026-03-10",
                "enterprise_fine": "40000.50",
                "decided_on": "2026-03-12",
            },
            county,
        )
    )
    assert second["total_fine"] == 40000.5

    # a picture of the cut line, kept with its hash
    png = b"\x89PNG\r\n\x1a\n picture"
    attached = w.client.post(
        f"/api/v1/penalties/{first['id']}/attachments",
        params={"name": "断线.png"},
        content=png,
        headers={**w.headers(county), "Content-Type": "image/png"},
    )
    assert attached.status_code == 200, attached.text
    picture = attached.json()["evidence"][-1]
    assert (picture["kind"], picture["ref"], len(picture["sha256"])) == (
        "attachment",
        "断线.png",
        64,
    )
    stored = w.client.get(
        f"/api/v1/penalties/{first['id']}/attachments/{picture['id']}", headers=w.headers()
    )
    assert stored.content == png

    # the report of March: M1 decided 65,000 + 40,000.50 = 105,000.50, nothing paid yet
    report = w.ok(w.get("/penalties/report", **{"from": "2026-03-01", "to": "2026-03-31"}))
    (line,) = report["mines"]
    assert (line["mine"], line["count"], line["serious"], line["total"], line["unpaid"]) == (
        "M1",
        2,
        1,
        105000.5,
        105000.5,
    )
    assert (
        w.ok(w.get("/penalties/report", **{"from": "2026-03-13", "to": "2026-03-31"}))["total"][
            "count"
        ]
        == 1
    )

    # execution: the fines paid; the serious case waits for its stop to be carried out
    w.clock.now = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    paid = w.ok(w.post(f"/penalties/{second['id']}/execution", {"paid_on": "2026-03-19"}, county))
    assert paid["status"] == "executed"
    not_ordered = w.post(
        f"/penalties/{second['id']}/execution", {"carried_out_on": "2026-03-19"}, county
    )
    assert not_ordered.status_code == 409, not_ordered.text
    early = w.post(f"/penalties/{first['id']}/execution", {"paid_on": "2026-03-14"}, county)
    assert early.status_code == 422, early.text
    by_mine = w.post(f"/penalties/{first['id']}/execution", {"paid_on": "2026-03-19"}, mine)
    assert by_mine.status_code == 403, by_mine.text
    half = w.ok(w.post(f"/penalties/{first['id']}/execution", {"paid_on": "2026-03-19"}, county))
    assert half["status"] == "decided"
    done = w.ok(
        w.post(
            f"/penalties/{first['id']}/execution",
            {"carried_out_on": "2026-03-20", "note": "已停产整顿"},
            county,
        )
    )
    assert (done["status"], done["carried_out_on"]) == ("executed", "2026-03-20")
    report = w.ok(w.get("/penalties/report", **{"from": "2026-03-01", "to": "2026-03-31"}))
    assert (report["total"]["paid"], report["total"]["unpaid"], report["total"]["executed"]) == (
        105000.5,
        0,
        2,
    )
    listed = w.ok(w.get("/penalties", mine="M1", status="executed"))["items"]
    assert [p["number"] for p in listed] == [NUMBER, "襄煤罚〔2026〕2号"]

    state = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    with transaction(state.sessions) as session:
        actions = list(
            session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "penalty"))
        )
    assert actions == [
        "penalty.record",
        "penalty.record",
        "penalty.attachment",
        "penalty.execute",
        "penalty.execute",
        "penalty.execute",
    ]

    # the printable decision, read back from the PDF
    answer = w.client.get(f"/api/v1/penalties/{first['id']}/pdf", headers=w.headers())
    assert answer.headers["content-type"] == "application/pdf"
    text, fonts = pdf_text(answer.content)
    flat = "".join(text.split())
    for expected in (
        "行政处罚决定书",
        NUMBER,
        "人为造成煤炭产量监控系统不能正常运行",
        "第十八条第（三）项",
        "破坏电源线",
        "张矿长",
        "10,000.00",
        "65,000.00",
        "责令停产整顿",
        "襄垣县煤炭局",
        "2026-03-20",
    ):
        assert expected in flat, expected
    assert "CID" in fonts or "Type 0" in fonts or "TrueType" in fonts


def test_the_penalty_pages_list_sum_and_export(w: World) -> None:
    county = w.token_for("C1", write=True)
    w.ok(w.post("/penalties", serious(), county))
    people(w)
    page = w.client.get("/login")
    signed = w.client.post(
        "/login", data={"username": "chief", "password": PASSWORD, "csrf_token": csrf(page.text)}
    )
    assert signed.status_code == 200
    listing = w.client.get("/region/penalties?from=2026-03-01&to=2026-03-31")
    assert listing.status_code == 200 and NUMBER in listing.text
    detail = w.client.get("/region/penalties/1")
    assert detail.status_code == 200 and "李电工" in detail.text
    ranking = w.client.get("/region/ranking?org=C1&period=day&from=2026-03-15&to=2026-03-15")
    assert 'href="/region/penalties?mine=M1"' in ranking.text
    rows = xlsx_rows(
        w.client.get(
            "/region/penalties?from=2026-03-01&to=2026-03-31&format=xlsx&table=mines"
        ).content
    )
    # mine, code, count, serious, executed, enterprise, principal, responsible, total, paid
    assert rows[1][1:10] == ("M1", 1, 1, 0, 50000, 10000, 5000, 65000, 0)
    csv = w.client.get("/region/penalties?from=2026-03-01&to=2026-03-31&format=csv")
    assert NUMBER in csv.content.decode("utf-8-sig")
