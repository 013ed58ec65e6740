"""The pages 运行日志, 巡检记录, 交接班记录: forms, the patrol flag, both signatures,
exports. The clock stands at 2026-03-15 12:00 in Shanghai (the 早班)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.duty.pages import people, post, sign_in
from tests.support.documents import xlsx_rows
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url) as w:
        w.mine("M1")
        people(w, wangwu="duty_operator")
        yield w


def test_duty_log_and_patrols_from_the_pages(w: World) -> None:
    token = sign_in(w.client, "chief")
    page = post(w.client, "/ledger/M1/duty", token, text="系统运行正常")
    assert "运行日志已记录" in page and "系统运行正常" in page
    # the 夜班 (00:00–08:00) ended without a patrol
    assert "巡检不足" in page
    page = post(
        w.client,
        "/ledger/M1/patrols",
        token,
        at="2026-03-15T11:30",
        point="B1",
        checked="控制箱除尘，计量端检查",
        findings="无异常",
    )
    assert "巡检记录已保存" in page and "控制箱除尘" in page
    csv = w.client.get("/ledger/patrols?mine=M1&from=2026-03-15&to=2026-03-15&format=csv")
    assert csv.status_code == 200 and "控制箱除尘" in csv.content.decode("utf-8-sig")
    xlsx = w.client.get("/ledger/duty?mine=M1&format=xlsx")
    assert xlsx.status_code == 200
    cells = [c for row in xlsx_rows(xlsx.content) for c in row if c is not None]
    assert "系统运行正常" in cells, cells
    bad = post(
        w.client, "/ledger/M1/patrols", token, checked="x", findings="y", at="2026-03-16T08:00"
    )
    assert "future" in bad


def test_a_handover_from_the_pages_signed_by_both(w: World) -> None:
    token = sign_in(w.client, "chief")
    fields = {f"check_{c}": "1" for c in ("system", "records", "workplace", "unfinished")}
    page = post(
        w.client,
        "/ledger/M1/handover",
        token,
        incoming="wangwu",
        check_network="0",
        note_network="上传延迟",
        issues="B1 皮带跑偏\n打印机缺纸",
        **fields,
    )
    assert "交班已签字，待接班人签字" in page and "B1 皮带跑偏" in page and "上传延迟" in page
    assert "接班签字</button>" not in page  # chief is not the incoming operator
    other = TestClient(w.client.app)
    other_token = sign_in(other, "wangwu")
    page = other.get("/ledger/handover?mine=M1").text
    action = "/ledger/M1/handover/1/sign"
    assert action in page
    page = post(other, action, other_token, note="已接班")
    assert "接班已签字，交接完成" in page and "已交接" in page
    csv = other.get("/ledger/handover?mine=M1&format=csv").content.decode("utf-8-sig")
    assert "上传延迟" in csv and "B1 皮带跑偏" in csv
