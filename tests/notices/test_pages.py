"""The pages: a regulator of C1 finds M1's overproduction on 超产排名, follows 下发整改通知
(prefilled with it, and with the alarm from the alarm console), issues with a file; the
mine's duty operator acknowledges and answers on 上级通知与指令; the regulator verifies;
the open notices show per mine on the ranking until then."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.support.world import World, trip, world
from tests.web.test_accounts import PASSWORD, login


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "C1 县煤炭局", "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "X1", "name": "X1 煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="X1", belts=(), trips=("K1",), station="S1")
        # 11 trips of 100 t in the hour: 1,100 t, over M1's hourly 62.5 t (330,000 / 330 /
        # 16) and its daily 1,000 t (330,000 / 330)
        at = w.clock() - timedelta(minutes=10)
        w.ok(w.upload("S1", [trip(seq, at, "K1", 100) for seq in w.stations["S1"].seqs(11)]))
        w.users([("reg1", "C1", ["regulator"]), ("op1", "X1", ["duty_operator"])], PASSWORD, True)
        yield w


def csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, text[:300]
    return found.group(1)


def test_issue_from_the_region_pages_answer_at_the_mine(w: World) -> None:
    region = w.client
    assert login(region, "reg1").status_code == 303
    today = {"org": "C1", "from": "2026-03-15", "to": "2026-03-15"}
    ranking = region.get("/region/ranking", params=today)
    assert ranking.status_code == 200
    links = [
        html.unescape(h)
        for h in re.findall(r'class="is-size-7 issue-notice" href="([^"]+)"', ranking.text)
    ]
    (link,) = links
    assert "mine=M1" in link and "overproduction=" in link
    production = region.get("/region/production", params=today)
    assert "overproduction=" in html.unescape(production.text)
    (alarm,) = w.alarms(type="overproduction_hour")
    console = region.get("/alarms")
    assert f"/region/notices/new?kind=notice&amp;mine=M1&amp;alarm={alarm['id']}" in console.text
    form = region.get(f"/region/notices/new?kind=notice&mine=M1&alarm={alarm['id']}")
    assert form.status_code == 200
    assert f'name="cite_ref_0" value="{alarm["id"]}"' in form.text
    issued = region.post(
        "/region/notices",
        data={
            "csrf_token": csrf(form.text),
            "kind": "notice",
            "mine": "M1",
            "title": "超能力生产整改",
            "problem": "小时产量超过核定能力",
            "measures": "按核定能力组织生产",
            "cite_kind_0": "alarm",
            "cite_ref_0": str(alarm["id"]),
            "cite_label_0": "x",
            "deadline": "2026-03-20T12:00",
            "ack_hours": "2",
        },
        files={"files": ("检查记录.txt", "现场记录".encode(), "text/plain")},
        follow_redirects=False,
    )
    assert issued.status_code == 303, issued.text
    assert issued.headers["location"] == "/region/notices/C1-ZG-2026-001"
    detail = region.get("/region/notices/C1-ZG-2026-001")
    assert "检查记录.txt" in detail.text and "时超产" in detail.text
    # deadline entered as local time: 12:00 Asia/Shanghai is 04:00 UTC
    assert w.ok(w.get("/notices/C1-ZG-2026-001"))["deadline"] == "2026-03-20T04:00:00Z"
    assert "open-notices" in region.get("/region/ranking", params={"org": "C1"}).text

    mine = TestClient(w.client.app)
    assert login(mine, "op1").status_code == 303
    listed = mine.get("/production/notices")
    assert "C1-ZG-2026-001" in listed.text
    page = mine.get("/production/notices/C1-ZG-2026-001")
    acked = mine.post(
        "/production/notices/C1-ZG-2026-001/ack",
        data={"csrf_token": csrf(page.text), "mine": "M1", "passed_to": "调度室"},
        follow_redirects=False,
    )
    assert acked.status_code == 303
    page = mine.get("/production/notices/C1-ZG-2026-001")
    answered = mine.post(
        "/production/notices/C1-ZG-2026-001/answer",
        data={"csrf_token": csrf(page.text), "mine": "M1", "answer": "已按能力组织生产"},
        files={"files": ("整改报告.txt", "报告".encode(), "text/plain")},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    # the mine's user cannot reach the supervising side
    assert mine.get("/region/notices").status_code == 403

    detail = region.get("/region/notices/C1-ZG-2026-001")
    assert "整改报告.txt" in detail.text and "verify-form" in detail.text
    verified = region.post(
        "/region/notices/C1-ZG-2026-001/verify",
        data={"csrf_token": csrf(detail.text), "mine": "M1", "note": "合格"},
        follow_redirects=False,
    )
    assert verified.status_code == 303
    (r,) = w.ok(w.get("/notices/C1-ZG-2026-001"))["recipients"]
    assert (r["state"], r["verified_by"], r["acknowledged_by"]) == ("closed", "reg1", "op1")
    assert "open-notices" not in region.get("/region/ranking", params={"org": "C1"}).text
