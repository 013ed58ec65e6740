"""Summaries upward through their whole life: the month-end summary 月终汇总 with its
production, alarms, faults and their handling, refused while the month runs, signed in
order (值机员 → 值班矿长 → 总工程师), stale when the handling changes after a signature,
regenerated, signed again and submitted upward; the abnormal-situation report
异常情况上传报表 signed by the duty mine manager 值班矿长 alone; the year-end summary
shown provisionally while the year runs. The clock stands at 2026-04-02 12:00 in
Asia/Shanghai."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import Principal
from coalwatch.domain.reports import Signer
from coalwatch.errors import Conflict, Forbidden
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.summaries import service
from coalwatch.summaries.schemas import SummaryReport
from coalwatch.users import repository as user_repository
from coalwatch.users import service as users
from tests.support.documents import pdf_text, xlsx_rows
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "Coal-watch-2026!"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def march(w: World) -> None:
    """10 t on 2 March, 20 t on 20 March; the mains lost on 10 March 10:00–10:20 (an
    alarm and its fault, never reported upward: 核减)."""
    seqs = w.stations["S1"].seqs(6)
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(seqs[0], local(2026, 3, 2, 10, 0), "B1", "100"),
                totalizer(seqs[1], local(2026, 3, 2, 10, 30), "B1", "110"),
                {
                    "seq": seqs[2],
                    "ts": local(2026, 3, 10, 10, 0),
                    "type": "event",
                    "point": "B1",
                    "event": "power_off",
                },
                {
                    "seq": seqs[3],
                    "ts": local(2026, 3, 10, 10, 20),
                    "type": "event",
                    "point": "B1",
                    "event": "power_on",
                },
                totalizer(seqs[4], local(2026, 3, 20, 9, 0), "B1", "110"),
                totalizer(seqs[5], local(2026, 3, 20, 9, 30), "B1", "130"),
            ],
        )
    )


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url, local(2026, 4, 2, 12, 0)) as w:
        w.mine("M1")  # A = 330,000 t
        march(w)
        w.tick()  # the fault's report is overdue: its reduction is assessed
        w.users(
            [
                ("op1", None, ["duty_operator"]),
                ("mm1", None, ["duty_mine_manager"]),
                ("ce1", None, ["chief_engineer"]),
            ],
            PASSWORD,
            ready=True,
        )
        yield w


@contextmanager
def db(w: World) -> Iterator[Session]:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def as_user(session: Session, username: str, w: World) -> Principal:
    user = user_repository.user_by_username(session, username)
    assert user is not None
    found = users.signed_in(
        session, user.id, users.stamp(user), w.clock(), users.Policy(None, 5, None)
    )
    assert found is not None
    return found[0]


def sign_as(w: World, username: str, role: Signer, kind: str, period: str) -> SummaryReport:
    with db(w) as session:
        principal = as_user(session, username, w)
        return service.sign(session, principal, "M1", kind, period, role, w.clock())


def test_the_month_end_summary_from_its_figures_to_submission(w: World) -> None:
    summary = w.ok(w.get("/mines/M1/summaries/month/2026-03"))
    assert not summary["provisional"] and summary["revision"] == 1
    # production: 110 − 100 = 10 t on the 2nd, 130 − 110 = 20 t on the 20th; no
    # coefficient, so raw = gross = 30 t; one row per day of March
    assert len(summary["rows"]) == 31
    assert Decimal(str(summary["total"]["gross_t"])) == Decimal(30)
    assert Decimal(str(summary["total"]["raw_t"])) == Decimal(30)
    assert Decimal(str(summary["rows"][1]["gross_t"])) == Decimal(10)
    [alarm] = [a for a in summary["alarms"] if a["type"] == "power_off"]
    assert alarm["handled_by"] is None and alarm["end"] == "2026-03-10T02:20:00Z"
    assert {"type": "power_off", "label": "停电", "count": 1, "handled": 0} in summary[
        "alarm_counts"
    ]
    [fault] = summary["faults"]
    assert fault["kind"] == "power_off" and fault["reported_at"] is None
    # not reported within 2 h: 核减 = A / 330 × 3 × fault days = 330000 / 330 × 3 × 1
    assert Decimal(str(fault["reduction_t"])) == Decimal(3000)
    assert Decimal(str(summary["reduction_t"])) == Decimal(3000)

    running = w.post("/mines/M1/summaries/month/2026-04/sign", {"role": "duty_operator"})
    assert running.status_code == 409
    assert w.ok(w.get("/mines/M1/summaries/month/2026-04"))["provisional"]

    with pytest.raises(Forbidden) as early:
        sign_as(w, "mm1", Signer.DUTY_MINE_MANAGER, "month", "2026-03")
    assert early.value.code == "out_of_order"
    sign_as(w, "op1", Signer.DUTY_OPERATOR, "month", "2026-03")

    # the alarm is handled after the operator signed: the signed revision is stale
    w.ok(w.post(f"/alarms/{alarm_id(w)}/ack", {}))
    w.ok(w.post(f"/alarms/{alarm_id(w)}/handle", {"result": "恢复供电，检查 UPS"}))
    assert w.ok(w.get("/mines/M1/summaries/month/2026-03"))["stale"]
    with pytest.raises(Conflict) as stale:
        sign_as(w, "mm1", Signer.DUTY_MINE_MANAGER, "month", "2026-03")
    assert stale.value.code == "stale_revision"
    second = w.ok(w.post("/mines/M1/summaries/month/2026-03/regenerate", None))
    assert second["revision"] == 2 and second["signatures"] == []
    handled = next(a for a in second["alarms"] if a["type"] == "power_off")
    assert handled["result"] == "恢复供电，检查 UPS"

    sign_as(w, "op1", Signer.DUTY_OPERATOR, "month", "2026-03")
    sign_as(w, "mm1", Signer.DUTY_MINE_MANAGER, "month", "2026-03")
    w.clock.advance(minutes=5)
    done = sign_as(w, "ce1", Signer.CHIEF_ENGINEER, "month", "2026-03")
    assert done.submitted_at == local(2026, 4, 2, 12, 5) and done.next_signer is None
    assert [s.signer for s in done.signatures] == ["op1", "mm1", "ce1"]
    assert {s.sha256 for s in done.signatures} == {done.sha256}
    with db(w) as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        detail = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "summary.submit")
        ).one()
    assert actions[-2:] == ["summary.sign", "summary.submit"]
    assert json.loads(detail) == {"revision": 2, "sha256": done.sha256}


def alarm_id(w: World) -> Any:
    return next(a["id"] for a in w.alarms(type="power_off"))


def test_the_abnormal_situation_report_is_signed_by_the_duty_mine_manager(w: World) -> None:
    report = w.ok(w.get("/mines/M1/summaries/abnormal/2026-03-10"))
    assert report["rows"] == [] and report["total"] is None
    # the mains lost at 10:00, and its fault not reported upward within 1 h
    assert [a["type"] for a in report["alarms"]] == ["power_off", "fault_report_overdue"]
    with pytest.raises(Forbidden) as refused:
        sign_as(w, "op1", Signer.DUTY_OPERATOR, "abnormal", "2026-03-10")
    assert refused.value.code == "wrong_role"
    signed = sign_as(w, "mm1", Signer.DUTY_MINE_MANAGER, "abnormal", "2026-03-10")
    assert [s.role for s in signed.signatures] == [Signer.DUTY_MINE_MANAGER]
    assert signed.submitted_at is not None


def test_the_year_end_summary_waits_for_the_year_and_bad_keys_are_refused(w: World) -> None:
    year = w.ok(w.get("/mines/M1/summaries/year/2026"))
    assert year["provisional"] and len(year["rows"]) == 12
    assert Decimal(str(year["total"]["gross_t"])) == Decimal(30)
    assert w.get("/mines/M1/summaries/week/2026").status_code == 422
    assert w.get("/mines/M1/summaries/month/2026-13").status_code == 422
    assert w.get("/mines/NOPE/summaries/month/2026-03").status_code == 404


def test_the_month_end_summary_reads_back_from_its_pdf(w: World) -> None:
    sign_as(w, "op1", Signer.DUTY_OPERATOR, "month", "2026-03")
    response = w.get("/mines/M1/summaries/month/2026-03", format="pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text, fonts = pdf_text(response.content)
    for heading in ("月终汇总", "产量", "报警及处理情况", "故障及处理情况", "审阅签字"):
        assert heading in text
    # 30 t in March (10 t on the 2nd, 20 t on the 20th); 核减 3,000 t for the fault
    for figure in ("10.000", "20.000", "30.000", "3,000.000"):
        assert figure in text
    assert "停电" in text and "op1" in text
    font_rows = fonts.splitlines()[2:]
    assert font_rows and all(row.split()[-5:-3] == ["yes", "yes"] for row in font_rows), fonts


def test_the_month_end_summary_reads_back_from_its_workbook(w: World) -> None:
    sign_as(w, "op1", Signer.DUTY_OPERATOR, "month", "2026-03")
    response = w.get("/mines/M1/summaries/month/2026-03", format="xlsx")
    assert response.status_code == 200
    rows = xlsx_rows(response.content)
    assert rows[0][0] == "月终汇总 2026-03"
    by_first = {row[0]: row for row in rows if row and row[0] is not None}
    # the days of March, then the total: 10 + 20 = 30 t gross and raw
    assert by_first["2026-03-02"][2] == 10 and by_first["2026-03-20"][2] == 20
    total = by_first["合计 Total"]
    assert (total[2], total[3]) == (30, 30)
    # the fault not reported within 2 h: 核减 = 330,000 / 330 × 3 = 3,000 t
    [fault] = [row for row in rows if row[6] == 3000]
    assert fault[3] is None  # never reported upward
    assert by_first["产量监控值机员 审阅签字"][1] == "op1"
    assert by_first["值班矿长 审阅签字"][1] is None


def test_the_abnormal_report_downloads_from_its_page(w: World) -> None:
    login = w.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token
    w.client.post(
        "/login", data={"username": "mm1", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    page = w.client.get("/reports/summaries", params={"mine": "M1", "kind": "abnormal"})
    link = "/reports/summaries/M1/abnormal/2026-04-01/document.pdf"
    assert link in page.text
    text, _ = pdf_text(w.client.get(link).content)
    assert "异常情况上传报表" in text and "值班矿长审阅签字" in text
    workbook = w.client.get(link.replace(".pdf", ".xlsx"))
    assert xlsx_rows(workbook.content)[0][0] == "异常情况上传报表 2026-04-01"
