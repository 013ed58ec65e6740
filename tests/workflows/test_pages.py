"""The pages 折算系数 and 人工录入 as workflows: submit, 待审批, approve or reject by
someone else. The clock stands at 2026-03-15 12:00 in Shanghai."""

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
        people(w, zhaoliu="regulator")
        yield w


def _regulator(w: World) -> tuple[TestClient, str]:
    """A second browser, signed in as the regulator zhaoliu; with its CSRF token."""
    client = TestClient(w.client.app)
    return client, sign_in(client, "zhaoliu")


def test_a_coefficient_application_approved_by_the_regulator(w: World) -> None:
    token = sign_in(w.client, "chief")
    application = {
        "kind": "half_year",
        "percent": "12",
        "effective_from": "2026-01-01",
        "effective_to": "2026-06-30",
        "analysis": "夹矸",
    }
    page = post(w.client, "/production/M1/coefficients", token, **application)
    assert "site measurement" in page  # above 10 %: refused without it
    page = post(
        w.client,
        "/production/M1/coefficients",
        token,
        **application,
        site_measurement="实测报告 第3号",
    )
    assert "折算系数申报已提交，待审批" in page and "待审批" in page and "逾期申报" in page
    assert "本人提交，须他人审批" in page
    own = w.client.post(
        "/production/M1/coefficient-applications/1/approve", data={"csrf_token": token}
    )
    assert own.status_code == 403
    regulator, other = _regulator(w)
    page = post(regulator, "/production/M1/coefficient-applications/1/approve", other)
    assert "折算系数已批准，自生效日期起执行" in page and "12.00" in page
    csv = regulator.get("/production/coefficients?mine=M1&format=csv")
    assert "已批准" in csv.content.decode("utf-8-sig")


def test_manual_entries_wait_and_can_be_rejected(w: World) -> None:
    token = sign_in(w.client, "chief")
    page = post(
        w.client,
        "/production/M1/manual",
        token,
        point="B1",
        start="2026-03-15T08:00",
        end="2026-03-15T10:00",
        gross_t="80",
        reason="皮带秤故障",
    )
    assert "人工录入已提交，待审批" in page and "80.000" in page
    assert w.ok(w.get("/mines/M1/summary"))["day"]["manual_t"] == 0
    regulator, other = _regulator(w)
    page = regulator.get("/production/manual?mine=&status=pending").text
    assert "/production/M1/manual-entries/1/reject" in page
    page = post(regulator, "/production/M1/manual-entries/1/reject", other, reason="无故障记录")
    assert "人工录入已驳回" in page and "无故障记录" in page
    assert w.ok(w.get("/mines/M1/summary"))["day"]["manual_t"] == 0
    xlsx = regulator.get("/production/manual?mine=M1&format=xlsx")
    assert xlsx.status_code == 200
    cells = [c for row in xlsx_rows(xlsx.content) for c in row if c is not None]
    # the one entry: 80 t on B1, rejected with its reason
    assert "无故障记录" in cells and "皮带秤故障" in cells, cells
    assert any(str(c) in ("80", "80.000") for c in cells), cells
