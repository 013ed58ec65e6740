"""结算管理 in a real browser: a fee item and its rates entered through the pages, a month's
statement with hand-worked figures, printed and downloaded (PDF, XLSX) through the session.

The month is March 2025 (Asia/Shanghai). Mine JS 金山煤矿 (county YC) has no deduction
coefficient that year, so raw = gross. Its belt B1's totalizer:

    3 Mar  08:00  100 t (baseline)   12:00  1,100 t  → 1,000.000 t on 3 Mar
    20 Mar 08:00  1,100 t            12:00  1,300 t  →   200.000 t on 20 Mar

Fee item 资源税 resource_tax: 5.00 元/t from 1 Jan 2025, 5.50 元/t from 16 Mar 2025, so
the statement has one line per rate stretch:

    1–15 Mar   1,000.000 t × 5.00 = 5,000.00 元
    16–31 Mar    200.000 t × 5.50 = 1,100.00 元
    total                           6,100.00 元
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from coalwatch.auth.principal import OPERATOR
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import MineIn, PointIn, StationIn
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.web.conftest import ADMIN_PASSWORD, Center, Console, StationKey, screenshot, sign_in

SH = ZoneInfo("Asia/Shanghai")


def _mine_without_coefficient(center: Center) -> None:
    """金山煤矿 JS with station S-JS and belt B1, producing in March 2025 only."""
    engine = make_engine(center.url)
    now = datetime.now(UTC)
    key = generate_private_key()
    with transaction(make_sessionmaker(engine)) as session:
        mines.create_mine(
            session,
            OPERATOR,
            MineIn(code="JS", name="金山煤矿", org="YC", annual_capacity_t=Decimal(300_000)),
            "Asia/Shanghai",
            now,
        )
        mines.create_point(
            session, OPERATOR, "JS", PointIn(code="B1", name="主井皮带秤", kind="belt"), now
        )
        mines.register_station(
            session, OPERATOR, "JS", StationIn(code="S-JS", public_key=public_key_b64(key)), now
        )
    engine.dispose()
    center.stations["S-JS"] = StationKey("S-JS", key)
    center.upload(
        "S-JS",
        [
            {
                "ts": datetime(2025, 3, d, h, tzinfo=SH),
                "type": "totalizer",
                "point": "B1",
                "total_t": Decimal(t),
            }
            for d, h, t in [(3, 8, 100), (3, 12, 1100), (20, 8, 1100), (20, 12, 1300)]
        ],
    )


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _post(page: Any, form: str, **fields: str) -> str:
    """Fill the fields (ids with - written _) of a form, submit it, and read the message."""
    for name, value in fields.items():
        page.fill("#" + name.replace("_", "-"), value)
    page.click(f"{form} button[type=submit]")
    return str(page.inner_text("#flash"))


def test_fee_item_rates_and_a_months_statement_through_the_pages(
    new_page: Any, center: Center, console: Console, tmp_path: Path
) -> None:
    _mine_without_coefficient(center)
    page = new_page()
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.click(".sidebar summary:has-text('结算管理')")
    page.click(".sidebar a:has-text('收费项目')")
    page.wait_for_selector("#fee-items")
    assert "没有收费项目" in page.inner_text("#fee-items")

    form = "#add-fee-item"
    assert "收费项目已增加" in _post(page, form, fi_code="resource_tax", fi_name="资源税")
    # the same code again: refused with a message, nothing half-written
    assert "exists already" in _post(page, form, fi_code="resource_tax", fi_name="资源税 2")
    form = "#add-fee-rate"
    for rate, day in [("5.00", "2025-01-01"), ("5.5", "2025-03-16")]:
        assert "费率已登记" in _post(page, form, fr_rate=rate, fr_from=day)
    # five decimals: refused with the rule, not stored
    assert "at most 4 decimals" in _post(page, form, fr_rate="1.23456", fr_from="2025-04-01")
    row = page.inner_text("#item-resource_tax")
    assert "资源税" in row
    assert "5.00 元/t" in row and "5.50 元/t" in row  # both rates, each to the fen
    assert "1.2346" not in row and "1.23456" not in row
    # the rate in force today is the later one
    assert page.inner_text("#item-resource_tax td.num") == "5.50"

    # the items as a download: one row per rate given
    listed = page.request.get(page.get_attribute("#export-xlsx", "href"))
    assert listed.status == 200
    book = load_workbook(io.BytesIO(listed.body())).active
    assert book is not None
    given = [r for r in book.iter_rows(values_only=True) if r[0] == "resource_tax"]
    assert [(r[1], Decimal(str(r[3])), str(r[4])[:10]) for r in given] == [
        ("资源税", Decimal("5"), "2025-01-01"),
        ("资源税", Decimal("5.5"), "2025-03-16"),
    ]

    page.click(".sidebar a:has-text('月结算单')")
    page.fill("#f-month", "2025-03")
    page.select_option("#f-org", "YC")
    page.click("#query")
    page.wait_for_selector("#mine-JS")
    js = page.inner_text("#mine-JS")
    assert "1,200.000" in js  # 1,000 + 200 t raw (k = 0)
    assert "6,100.00" in js
    # the list as a download: the same row, the amounts as numbers
    listed = page.request.get(page.get_attribute("#export-csv", "href"))
    assert listed.status == 200
    table = list(csv.reader(io.StringIO(listed.body().decode("utf-8-sig"))))
    assert table[0][-1] == "合计 (元)"
    js_row = next(r for r in table if r[0] == "JS")
    assert [Decimal(v) for v in js_row[2:]] == [
        Decimal(1200),
        Decimal(1200),
        Decimal(0),
        Decimal(6100),
        Decimal(6100),
    ]
    page.click("#mine-JS a")
    page.wait_for_selector("#statement-lines")
    assert "/settlement/statements/JS/2025-03" in page.url
    lines = [
        [cell.strip() for cell in text.split("\t")]
        for text in page.locator("#statement-lines tbody tr").all_inner_texts()
    ]
    assert lines == [
        ["资源税 resource_tax", "2025/3/1", "2025/3/15", "5.00", "1,000.000", "5,000.00"],
        ["资源税 resource_tax", "2025/3/16", "2025/3/31", "5.50", "200.000", "1,100.00"],
        ["合计 (元)", "6,100.00"],
    ]
    assert "本月已结束" in page.inner_text("#statement-state")
    assert page.locator("[data-print]").count() == 1
    screenshot(page, "settlement-statement", full_page=True)

    # downloads go through the session (the API would want a bearer token)
    assert page.get_attribute("#export-pdf", "href").startswith("/settlement/")
    with page.expect_download() as pdf_download:
        page.click("#export-pdf")
    pdf = tmp_path / "statement.pdf"
    pdf_download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = _pdf_text(pdf)
    for expected in ("月结算单", "金山煤矿", "资源税", "5,000.00", "1,100.00", "6,100.00"):
        assert expected in text, expected

    with page.expect_download() as xlsx_download:
        page.click("#export-xlsx")
    xlsx = tmp_path / "statement.xlsx"
    xlsx_download.value.save_as(xlsx)
    sheet = load_workbook(io.BytesIO(xlsx.read_bytes())).active
    assert sheet is not None
    rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    header = next(i for i, r in enumerate(rows) if r[0] == "项目编号 Item")
    got = [
        (r[0], r[2].day, r[3].day, Decimal(str(r[4])), Decimal(str(r[5])), Decimal(str(r[6])))
        for r in rows[header + 1 : header + 3]
    ]
    assert got == [
        ("resource_tax", 1, 15, Decimal("5"), Decimal("1000"), Decimal("5000")),
        ("resource_tax", 16, 31, Decimal("5.5"), Decimal("200"), Decimal("1100")),
    ]
    assert rows[header + 3][0] == "合计 Total" and Decimal(str(rows[header + 3][6])) == 6100


def test_statement_pages_refuse_bad_input_with_a_message(
    new_page: Any, center: Center, console: Console
) -> None:
    console.allow("status of 404", "status of 422")
    page = new_page()
    sign_in(page, "admin", ADMIN_PASSWORD)
    answer = page.goto("/settlement/statements?month=2025-13")
    assert answer.status == 422
    assert "no month '2025-13'" in page.inner_text("body")
    answer = page.goto("/settlement/statements/NOPE/2025-03")
    assert answer.status == 404
    assert "NOPE" in page.inner_text("body")


def test_a_county_user_without_settlement_view_gets_no_menu_and_403(
    new_page: Any, center: Center, console: Console
) -> None:
    console.allow("status of 403")
    page = new_page()
    sign_in(page, "zhangsan")  # 值机员: no settlement permission
    assert "结算管理" not in page.inner_text(".sidebar")
    assert page.goto("/settlement/items").status == 403
    assert page.goto("/settlement/statements").status == 403
