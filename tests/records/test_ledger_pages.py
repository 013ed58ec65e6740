"""The ledger pages post through the services with the session's CSRF token: equipment and
scrapping, the fault register (record, report, close), maintenance, calibrations with their
confirmation, UPS tests; filters, paging and exports. Clock: 2026-03-15 12:00 Asia/Shanghai."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from coalwatch.auth.service import create_admin
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, world

# the pages on SQLite: the ledgers' storage is tested on both in test_ledgers_api.py
pytestmark = SQLITE_ONLY

PASSWORD = "Coal-Ledger-2026"


@pytest.fixture
def admin(database_url: str) -> Iterator[tuple[World, TestClient, str]]:
    with world(database_url) as w:
        w.mine("M1", trips=("K1",))
        engine = make_engine(database_url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", PASSWORD, w.clock())
        engine.dispose()
        page = w.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        w.client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        page = w.client.get("/ledger/equipment")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        yield w, w.client, csrf.group(1)


def poster(client: TestClient, csrf: str) -> Callable[..., str]:
    """Posts a form with the session's CSRF token; the page it comes back to."""

    def post(path: str, **fields: str) -> str:
        answer = client.post(path, data={"csrf_token": csrf, **fields})
        assert answer.status_code == 200, answer.text
        return answer.text

    return post


def test_the_ledgers_are_kept_from_the_pages(admin: tuple[World, TestClient, str]) -> None:
    _, client, csrf = admin
    post = poster(client, csrf)
    refused = client.post("/ledger/M1/equipment", data={"name": "x", "kind": "ups"})
    assert refused.status_code == 403  # no CSRF token
    page = client.get("/ledger/equipment").text
    for label in ("设备仪表台账", "故障登记", "检修记录", "调校记录", "UPS 测试"):
        assert label in page  # the menu group 台账管理
    page = post(
        "/ledger/M1/equipment",
        name="主井皮带秤",
        kind="belt_scale",
        point="B1",
        status="in_use",
        ma_mark="MAH120045",
        ex_certificate="CJEx20.1234",
        installed_on="2024-05-10",
    )
    assert "设备已登记" in page and "MAH120045" in page and "CJEx20.1234" in page
    item = re.search(r'href="/ledger/M1/equipment/(\d+)"', page)
    assert item
    key = f"/ledger/M1/equipment/{item.group(1)}"
    page = post(key, name="主井皮带秤", kind="belt_scale", status="repair")
    assert "设备信息已保存" in page and "维修" in page
    page = post(f"{key}/scrap", criterion="repair_cost", scrapped_on="2026-03-15")
    assert "needs the repair cost" in page  # refused, with the reason
    page = post(f"{key}/scrap", criterion="explosion_proof_lost", scrapped_on="2026-03-15")
    assert "设备已报废" in page and "失爆不能修复" in page and "不能再修改" in page
    assert 'id="edit-equipment"' not in page
    page = post(key, name="改名", kind="belt_scale", status="in_use")
    assert "can no longer be changed" in page

    post("/ledger/M1/equipment", name="主站 UPS", kind="ups", status="in_use")
    page = post(
        "/ledger/M1/ups",
        tested_at="2026-03-15T09:00",
        minutes_on_backup="12",
        tested_by="张三",
    )
    assert "UPS 测试已登记" in page and "不合格" in page

    page = post(
        "/ledger/M1/maintenance",
        kind="yearly",
        content="年检",
        point="B1",
        start="2026-03-10T09:00",
        end="2026-03-10T16:00",
        performed_by="县局检查组",
        result="合格",
    )
    # a yearly inspection on 2026-03-10 is due again on 2027-03-10
    assert "检修记录已登记" in page and "2027/3/10" in page

    page = post(
        "/ledger/M1/calibrations",
        point="B1",
        calibrated_on="2026-03-15",
        old_interval="1.0000",
        first_actual_t="5.000",
        first_indicated_t="5.050",
        calibrated_by="王工",
    )
    # 5.000 / 5.050 × 1.0000 = 0.990099…; (5.050 − 5.000) / 5.000 × 100 = 1.000 %
    assert "调校记录已登记" in page and "0.990099" in page and "1.000" in page and "待复核" in page
    confirm = re.search(r'action="(/ledger/M1/calibrations/\d+/confirm)"', page)
    assert confirm
    page = post(
        confirm.group(1),
        second_actual_t="5.000",
        second_indicated_t="5.000",
        confirmed_on="2026-03-15",
        written_to_instrument="true",
    )
    # confirmed on 03-15: due on 03-30
    assert "复核已登记" in page and "已复核" in page and "2026/3/30" in page

    page = post(
        "/ledger/M1/faults",
        point="B1",
        occurred_at="2026-03-15T11:30",
        phenomenon="积算仪黑屏",
    )
    assert "故障已登记" in page and "积算仪黑屏" in page
    fault = re.search(r'action="/ledger/faults/(\d+)/report"', page)
    assert fault
    page = post(f"/ledger/faults/{fault.group(1)}/report")
    assert "故障已上报" in page and "按时" in page  # 11:30 → 12:00: within 1 h
    page = post(f"/ledger/faults/{fault.group(1)}/close", result="更换电源模块")
    assert "故障已关闭" in page and "更换电源模块" in page

    for path, header in (
        ("/ledger/equipment?mine=M1", "MA 安全标志编号"),
        ("/ledger/faults?mine=M1", "上报状态"),
        ("/ledger/maintenance?mine=M1", "下次到期"),
        ("/ledger/calibrations?mine=M1", "新间隔值"),
        ("/ledger/ups?mine=M1", "备用电源运行 (分钟)"),
    ):
        answer = client.get(path + "&format=csv")
        assert answer.status_code == 200, path
        assert header in answer.content.decode("utf-8-sig").splitlines()[0]
    book = client.get("/ledger/calibrations?mine=M1&format=xlsx")
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None and sheet["I2"].value.startswith("0.990099")
    assert client.get("/ledger/maintenance?mine=M1&kind=routine").text.count("没有检修记录") == 1
