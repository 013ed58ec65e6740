"""Acceptance 验收 of a mine's monitoring system through its whole life, on the center
(SQLite): under construction with production (flagged 未验收 and alarmed) → accepted by
the county (never by the mine) → annual inspection 年检 overdue, then done → suspended
with production (alarmed again) → re-accepted at the resumption. Asia/Shanghai (UTC+8).

The clock is the world's: no waiting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.storage.session import transaction
from tests.duty.pages import PASSWORD, csrf, people
from tests.support.world import World, totalizer, world


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    # 2026-03-14 10:00 in Shanghai
    with world(sqlite_url, now=datetime(2026, 3, 14, 2, 0, tzinfo=UTC)) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "襄垣县", "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "CO1", "name": "煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="CO1", accepted=False)
        yield w


def produce(w: World, first_seq: int, at: datetime, start_t: str, end_t: str) -> None:
    """Two readings of belt B1 five minutes apart: end − start tonnes in that hour."""
    w.clock.now = at.replace(minute=10)
    answer = w.ok(
        w.upload(
            "S1",
            [
                totalizer(first_seq, at.replace(minute=1), "B1", start_t),
                totalizer(first_seq + 1, at.replace(minute=6), "B1", end_t),
            ],
        )
    )
    assert answer["rejected"] == [], answer


def alarms(w: World, type_: str) -> list[dict[str, Any]]:
    return w.alarms(type=type_)


def decide(w: World, token: str | None = None, **body: Any) -> Any:
    return w.post("/mines/M1/acceptance", body, token)


def audit_actions(w: World) -> list[tuple[str, str]]:
    state = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    with transaction(state.sessions) as session:
        return [
            (e.action, e.detail)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "acceptance"))
        ]


def test_a_system_through_construction_acceptance_inspection_suspension_and_resumption(
    w: World,
) -> None:
    county = w.token_for("C1", write=True)  # the county office
    mine = w.token_for("CO1", write=True)  # the company that holds the mine
    state = w.ok(w.get("/mines/M1/acceptance"))
    assert (state["state"], state["accepted"], state["decisions"]) == (
        "under_construction",
        False,
        [],
    )

    # production at a mine not accepted: 10 t on 14 March 10:00–11:00 (Shanghai)
    produce(w, 1, datetime(2026, 3, 14, 2, 0, tzinfo=UTC), "100.000", "110.000")
    w.tick()
    (alarm,) = alarms(w, "unaccepted_production")
    assert (alarm["severity"], Decimal(str(alarm["value"])), alarm["end"]) == (
        "critical",
        Decimal(10),
        None,
    )
    # under construction since the mine was registered: 10:00 on the 14th, its clock
    assert alarm["detail"] == "监控系统在建（自 2026-03-14 10:00 起），记录到产量 10.000 t"
    summary = w.ok(w.get("/mines/M1/summary"))
    assert (summary["acceptance"], summary["accepted"]) == ("under_construction", False)

    # the mine's own people may not accept their system; the county may
    w.clock.now = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)
    body = {
        "kind": "acceptance",
        "decided_on": "2026-03-15",
        "record_no": "襄煤验字〔2026〕第01号",
        "inspection_due": "2027-03-15",
    }
    refused = decide(w, mine, **body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["details"]["unit"] == "C1"
    missing = decide(w, county, **{**body, "record_no": None})
    assert missing.status_code == 422, missing.text
    # 2026-03-15 + 367 days: more than a year ahead
    too_late = decide(w, county, **{**body, "inspection_due": "2027-03-17"})
    assert too_late.status_code == 422, too_late.text
    state = w.ok(decide(w, county, **body))
    assert (state["state"], state["accepted_unit"], state["accepted_on"]) == (
        "accepted",
        "襄垣县",
        "2026-03-15",
    )
    again = decide(w, county, **body)
    assert again.status_code == 409, again.text
    (alarm,) = alarms(w, "unaccepted_production")
    assert alarm["end"] is not None  # ended by the acceptance itself

    # the acceptance record as a file, kept with its hash (and the hash in the audit log)
    decision_id = state["decisions"][-1]["id"]
    pdf = b"%PDF-1.4 acceptance record"
    stored = w.client.put(
        f"/api/v1/acceptance/{decision_id}/record",
        content=pdf,
        headers={**w.headers(county), "Content-Type": "application/pdf"},
    )
    assert stored.status_code == 200, stored.text
    sha = stored.json()["record_sha256"]
    assert len(sha) == 64
    assert (
        w.client.get(f"/api/v1/acceptance/{decision_id}/record", headers=w.headers()).content == pdf
    )
    assert any(a == "acceptance.record" and sha in d for a, d in audit_actions(w))

    # the production of 14 March stays marked in its reports; 15 March (accepted) is not
    daily = w.ok(w.get("/mines/M1/reports/daily/2026-03-14"))
    assert daily["unaccepted"] is True
    month = w.ok(w.get("/mines/M1/reports/month/2026-03"))
    assert month["unaccepted"] == ["2026-03-14"]
    county_month = w.ok(w.get("/orgs/C1/reports/month/2026-03"))
    assert county_month["unaccepted"] == ["M1"]
    summary = w.ok(w.get("/mines/M1/summary"))
    assert summary["accepted"] is True

    # a year on, the annual inspection due on 2027-03-15 is overdue on 16 March
    w.clock.now = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)  # 23:00 on the due day
    w.tick()
    assert alarms(w, "inspection_overdue") == []
    w.clock.now = datetime(2027, 3, 16, 2, 0, tzinfo=UTC)
    w.tick()
    (overdue,) = alarms(w, "inspection_overdue")
    assert (overdue["threshold"], overdue["end"]) == ("2027-03-15", None)
    board = w.ok(w.get("/acceptance", org="C1"))["items"]
    assert [(i["mine"], i["inspection_overdue"]) for i in board] == [("M1", True)]
    # the inspection passes: the alarm ends at once, the next one is due in a year
    inspection = {
        "kind": "inspection",
        "decided_on": "2027-03-16",
        "record_no": "襄煤检字〔2027〕第01号",
        "inspection_due": "2028-03-16",
    }
    state = w.ok(decide(w, county, **inspection))
    assert (state["inspection_due"], state["inspection_overdue"]) == ("2028-03-16", False)
    (overdue,) = alarms(w, "inspection_overdue")
    assert overdue["end"] is not None

    # suspended (停产整顿): production is alarmed again, a new alarm
    state = w.ok(decide(w, county, kind="suspension", decided_on="2027-03-16", note="停产整顿"))
    assert (state["state"], state["accepted"]) == ("suspended", False)
    produce(w, 3, datetime(2027, 3, 16, 3, 0, tzinfo=UTC), "110.000", "112.500")
    w.tick()
    ongoing = [a for a in alarms(w, "unaccepted_production") if a["end"] is None]
    assert [Decimal(str(a["value"])) for a in ongoing] == [Decimal("2.5")]
    resumed = decide(w, mine, kind="resumption", decided_on="2027-03-17", record_no="x",
                     inspection_due="2028-03-17")  # fmt: skip
    assert resumed.status_code == 403

    # re-accepted at the resumption 复产验收
    w.clock.now = datetime(2027, 3, 17, 2, 0, tzinfo=UTC)
    state = w.ok(
        decide(
            w,
            county,
            kind="resumption",
            decided_on="2027-03-17",
            record_no="襄煤验字〔2027〕第07号",
            inspection_due="2028-03-17",
        )
    )
    assert state["state"] == "accepted"
    assert [d["kind"] for d in state["decisions"]] == [
        "acceptance",
        "inspection",
        "suspension",
        "resumption",
    ]
    w.tick()
    assert all(a["end"] is not None for a in alarms(w, "unaccepted_production"))
    assert [a for a, _ in audit_actions(w)] == [
        "acceptance.acceptance",
        "acceptance.record",
        "acceptance.inspection",
        "acceptance.suspension",
        "acceptance.resumption",
    ]


def test_production_not_accepted_is_marked_on_the_pages_that_show_it(w: World) -> None:
    produce(w, 1, datetime(2026, 3, 14, 2, 0, tzinfo=UTC), "100.000", "110.000")
    people(w)
    client = w.client
    page = client.get("/login")
    signed = client.post(
        "/login", data={"username": "chief", "password": PASSWORD, "csrf_token": csrf(page.text)}
    )
    assert signed.status_code == 200, signed.text
    mark = "unaccepted-mark"
    for path in (
        "/monitor?mine=M1",
        "/monitor/region",
        "/monitor/wall",
        "/reports/daily?mine=M1&day=2026-03-14",
        "/reports/period?kind=month&mine=M1&month=2026-03",
        "/region/production?org=C1&period=day&from=2026-03-14&to=2026-03-14",
        "/region/ranking?org=C1&period=day&from=2026-03-14&to=2026-03-14",
        "/region/acceptance",
        "/region/acceptance/M1",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert mark in answer.text, path
    # the documents: the printable daily report says it, the period workbook marks the day
    from tests.support.documents import xlsx_rows

    printable = w.get("/mines/M1/reports/daily/2026-03-14", format="html")
    assert "未验收" in printable.text
    rows = xlsx_rows(client.get("/reports/mines/M1/month/2026-03.xlsx").content)
    marked = [r[0] for r in rows if isinstance(r[1], str) and r[1].endswith("[未验收]")]
    assert marked == ["2026-03-14"]
