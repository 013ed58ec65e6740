"""Approval workflows through the API, on SQLite and PostgreSQL (the rules an application is
checked against, on SQLite): a mine's user submits, a different user approves or rejects.
The clock stands at 2026-03-15 12:00 in Shanghai."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from coalwatch.auth.service import create_token
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, totalizer, world


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.mine("M1")
        yield w


def named(w: World, name: str) -> str:
    """A write token acting as ``name`` (the applicant or the approver)."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        token = create_token(session, name, None, True, w.clock())
    engine.dispose()
    return token


def day(w: World, at: str = "2026-03-15T12:00:00+08:00") -> dict[str, Any]:
    figures: dict[str, Any] = w.ok(w.get("/mines/M1/summary", at=at))["day"]
    return figures


MANUAL = {
    "point": "B1",
    "start": "2026-03-15T08:00:00+08:00",
    "end": "2026-03-15T10:00:00+08:00",
    "gross_t": "120.5",
    "reason": "皮带秤故障，人工计量",
}


def test_manual_production_counts_once_approved_and_not_while_pending(w: World) -> None:
    zhang, li = named(w, "zhang"), named(w, "li")
    entry = w.post("/mines/M1/manual-entries", MANUAL, token=zhang)
    assert entry.status_code == 201, entry.text
    assert entry.json()["status"] == "pending" and entry.json()["applied_by"] == "token:zhang"
    # pending: not counted
    assert day(w)["gross_t"] == 0 and day(w)["manual_t"] == 0
    pending = w.ok(w.get("/manual-entries", status="pending"))
    assert pending["total"] == 1
    # nobody approves their own entry
    own = w.post(f"/manual-entries/{entry.json()['id']}/approve", None, token=zhang)
    assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"
    assert day(w)["manual_t"] == 0
    approved = w.ok(w.post(f"/manual-entries/{entry.json()['id']}/approve", None, token=li))
    assert approved["status"] == "approved" and approved["decided_by"] == "token:li"
    # 120.5 t between 08:00 and 10:00 on the 15th: the day holds 120.5 t, all manual;
    # no coefficient: raw = gross
    figures = day(w)
    assert figures["gross_t"] == 120.5 and figures["manual_t"] == 120.5
    assert figures["raw_t"] == 120.5
    again = w.post(f"/manual-entries/{entry.json()['id']}/approve", None, token=li)
    assert again.status_code == 409
    # counted, entered by the applicant and approved by the approver
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        from sqlalchemy import select

        from coalwatch.storage.models import ManualProduction

        row = session.scalars(select(ManualProduction)).one()
        assert (row.entered_by, row.approved_by) == ("token:zhang", "token:li")
    engine.dispose()


def test_a_rejected_manual_entry_changes_nothing(w: World) -> None:
    zhang, li = named(w, "zhang"), named(w, "li")
    entry = w.ok(w.post("/mines/M1/manual-entries", MANUAL, token=zhang))
    no_reason = w.post(f"/manual-entries/{entry['id']}/reject", {"reason": " "}, token=li)
    assert no_reason.status_code == 422
    rejected = w.ok(
        w.post(f"/manual-entries/{entry['id']}/reject", {"reason": "无故障记录"}, token=li)
    )
    assert rejected["status"] == "rejected" and rejected["decision_note"] == "无故障记录"
    assert day(w)["manual_t"] == 0
    late = w.post(f"/manual-entries/{entry['id']}/approve", None, token=li)
    assert late.status_code == 409


def _production(w: World) -> None:
    """100 t on 14 March and 100 t on 15 March (belt totalizer, Shanghai time)."""
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, datetime(2026, 3, 14, 2, 0, tzinfo=UTC), "B1", "1000"),
                totalizer(2, datetime(2026, 3, 14, 3, 0, tzinfo=UTC), "B1", "1100"),
                totalizer(3, datetime(2026, 3, 15, 2, 0, tzinfo=UTC), "B1", "1200"),
            ],
        )
    )


def _raw_by_day(w: World) -> list[Any]:
    items = w.ok(
        w.get(
            "/mines/M1/production",
            period="day",
            **{"from": "2026-03-14T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"},
        )
    )["items"]
    return [item["raw_t"] for item in items]


HALF_YEAR = {
    "percent": "4.5",
    "effective_from": "2026-01-01",
    "effective_to": "2026-06-30",
    "analysis": "夹矸、伪顶混入",
}


def test_coefficient_approval_changes_raw_from_its_date_and_rejection_nothing(w: World) -> None:
    zhang, li = named(w, "zhang"), named(w, "li")
    _production(w)
    assert _raw_by_day(w) == [100, 100]
    first = w.ok(w.post("/mines/M1/coefficient-applications", HALF_YEAR, token=zhang))
    # filed on 15 March for the half-year begun on 1 January: late, still accepted
    assert first["status"] == "pending" and first["on_time"] is False
    assert _raw_by_day(w) == [100, 100]  # pending: not in force
    w.ok(
        w.post(
            f"/coefficient-applications/{first['id']}/reject", {"reason": "缺少化验单"}, token=li
        )
    )
    assert _raw_by_day(w) == [100, 100]  # rejected: nothing changes
    second = w.ok(w.post("/mines/M1/coefficient-applications", HALF_YEAR, token=zhang))
    own = w.post(f"/coefficient-applications/{second['id']}/approve", None, token=zhang)
    assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"
    approved = w.ok(w.post(f"/coefficient-applications/{second['id']}/approve", None, token=li))
    assert (approved["approved_from"], approved["approved_to"]) == ("2026-01-01", "2026-06-30")
    # raw = 100 × (1 − 0.045) = 95.5 on both days
    assert _raw_by_day(w) == [95.5, 95.5]
    # a change of geology on 12 March, applied for on the 15th (3 days: in time), in
    # force from the 15th to 30 June at 6 %: the 14th keeps 95.5, the 15th is
    # 100 × (1 − 0.06) = 94
    change = w.ok(
        w.post(
            "/mines/M1/coefficient-applications",
            {
                "kind": "change",
                "percent": "6",
                "changed_on": "2026-03-12",
                "effective_from": "2026-03-15",
                "analysis": "遇断层，顶板破碎",
            },
            token=zhang,
        )
    )
    assert change["effective_to"] == "2026-06-30"
    w.ok(w.post(f"/coefficient-applications/{change['id']}/approve", None, token=li))
    assert _raw_by_day(w) == [95.5, 94]
    listed = w.ok(w.get("/coefficient-applications", mine="M1"))
    assert [a["status"] for a in listed["items"]] == ["approved", "approved", "rejected"]


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({**HALF_YEAR, "percent": "12"}, "site measurement"),
    ({**HALF_YEAR, "effective_to": "2026-03-31"}, "per half-year"),
    ({**HALF_YEAR, "effective_from": "2025-07-01", "effective_to": "2025-12-31"}, "has ended"),
    ({**HALF_YEAR, "percent": "4.555"}, "percent"),
    # changed on 27 February, filed on 15 March: day 16
    (
        {"kind": "change", "percent": "5", "changed_on": "2026-02-27", "analysis": "断层"},
        "within 15 days",
    ),
    ({"kind": "change", "percent": "5", "analysis": "断层"}, "changed_on"),
]


@SQLITE_ONLY
def test_applications_that_break_the_rules_are_refused(w: World) -> None:
    for body, message in REFUSED:
        answer = w.post("/mines/M1/coefficient-applications", body)
        assert answer.status_code == 422, answer.text
        assert message in answer.json()["error"]["message"], (body, answer.text)
    assert w.ok(w.get("/coefficient-applications"))["total"] == 0


@SQLITE_ONLY
def test_the_rules_accept_their_edges(w: World) -> None:
    # 12 % with a site measurement; a change 15 days ago (28 Feb → 15 Mar is day 15)
    ok = w.post(
        "/mines/M1/coefficient-applications",
        {**HALF_YEAR, "percent": "12", "site_measurement": "2026-03 实测报告 第7号"},
    )
    assert ok.status_code == 201, ok.text
    change = w.post(
        "/mines/M1/coefficient-applications",
        {"kind": "change", "percent": "5", "changed_on": "2026-02-28", "analysis": "断层"},
    )
    assert change.status_code == 201, change.text
    # no effective_from: in force from the day of approval to the end of the half-year
    li = named(w, "li")
    approved = w.ok(
        w.post(f"/coefficient-applications/{change.json()['id']}/approve", None, token=li)
    )
    assert (approved["approved_from"], approved["approved_to"]) == ("2026-03-15", "2026-06-30")


def test_a_read_token_may_not_submit_and_scope_hides_other_mines(w: World) -> None:
    reader = w.token_for(None, write=False)
    answer = w.post("/mines/M1/manual-entries", MANUAL, token=reader)
    assert answer.status_code == 403
    w.mine("M2", org="C2", station="S2")
    entry = w.ok(w.post("/mines/M2/manual-entries", MANUAL))
    scoped = w.token_for("C1", write=True)
    assert w.get(f"/manual-entries/{entry['id']}", token=scoped).status_code == 404
    assert w.ok(w.get("/manual-entries", token=scoped))["total"] == 0
    assert w.post(f"/manual-entries/{entry['id']}/approve", None, token=scoped).status_code == 404
