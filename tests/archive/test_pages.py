"""The archive page and the shutdown page take their files from the browser: a document
uploaded to the checklist, a refused deletion shown with its reason, a declaration filed
with its written report. SQLite; the clock stands at 2026-03-15 12:00 in Asia/Shanghai."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coalwatch.auth.service import create_admin
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world


@pytest.fixture
def admin(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[World, TestClient, str]]:
    with world(sqlite_url, var_dir=tmp_path / "var") as w:
        w.mine("M1")
        engine = make_engine(sqlite_url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", "Admin-2026-pass", w.clock())
        engine.dispose()
        page = w.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        w.client.post(
            "/login",
            data={"username": "admin", "password": "Admin-2026-pass", "csrf_token": token.group(1)},
        )
        page = w.client.get("/ledger/archive?mine=M1")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        yield w, w.client, csrf.group(1)


def test_documents_and_a_written_report_from_the_pages(
    admin: tuple[World, TestClient, str],
) -> None:
    w, client, csrf = admin
    page = client.post(
        "/ledger/archive/mine/M1/upload",
        data={"csrf_token": csrf, "kind": "system_diagram", "title": "系统示意图 2026"},
        files={"file": ("diagram.pdf", b"diagram", "application/pdf")},
    )
    assert page.status_code == 200 and "文件已归档" in page.text
    assert "系统示意图 2026" in page.text
    first = w.ok(w.get("/mines/M1/archive"))["documents"][0]["id"]
    client.post(
        "/ledger/archive/mine/M1/upload",
        data={"csrf_token": csrf, "kind": "system_diagram", "title": "系统示意图 修订"},
        files={"file": ("diagram2.pdf", b"diagram 2", "application/pdf")},
    )
    page = client.post(
        f"/ledger/archive/documents/{first}/delete",
        data={"csrf_token": csrf, "back": "/ledger/archive?mine=M1"},
    )
    assert "2028-03-15 前不得删除" in page.text
    assert client.get(f"/ledger/archive/documents/{first}/file").content == b"diagram"

    page = client.post(
        "/production/M1/shutdowns",
        data={
            "csrf_token": csrf,
            "start": "2026-03-20T00:00",
            "end": "2026-03-23T00:00",
            "reason": "井下改造",
        },
        files={"report": ("停产报告.pdf", "停产报告".encode(), "application/pdf")},
    )
    assert page.status_code == 200 and "停产报备已登记" in page.text
    (shutdown,) = w.ok(w.get("/mines/M1/shutdowns"))["items"]
    assert shutdown["report_document"] is not None and not shutdown["late"]
    assert "已提交" in page.text


def test_the_summary_pages_and_a_centers_archive_render(
    admin: tuple[World, TestClient, str],
) -> None:
    _, client, csrf = admin
    month = client.get("/reports/summaries?mine=M1&kind=month&period=2026-02")
    assert month.status_code == 200 and "月终汇总" in month.text
    # signing is the role holder's own act: the administrator holds none of the roles
    assert "待签字" in month.text and 'id="sign-duty_operator"' not in month.text
    abnormal = client.get("/reports/summaries?mine=M1&kind=abnormal")
    assert abnormal.status_code == 200 and "异常情况上传报表" in abnormal.text
    assert "2026-03-14" in abnormal.text  # yesterday by default
    refused = client.post(
        "/reports/summaries/M1/abnormal/2026-03-14/sign",
        data={"csrf_token": csrf, "role": "duty_mine_manager"},
    )
    assert refused.status_code == 403 and "值班矿长" in refused.text
    center = client.get("/ledger/archive?org=C1")
    assert center.status_code == 200 and "网络拓扑结构图" in center.text
