"""Period reports 班/旬/月/季/年报表 per mine and per org: rows and totals, where a total is
the exact sum of the parts rounded once.

March 2026 (Asia/Shanghai), clock at 2 April. Mine M1 (k = 4.5 %, raw = gross × 0.955),
mine M2 (k = 0), both in county C1, capacities 330,000 t (D = 1,000 t).

    M1 belt B1 totalizer: 1 Mar 00:30 100.000 (baseline), then
        11 Mar 09:00  100.333  +0.333 t   raw 0.318015
        15 Mar 10:00  100.666  +0.333 t   raw 0.318015
        20 Mar 23:00  100.999  +0.333 t   raw 0.318015
        25 Mar 08:00  110.000  +9.001 t   raw 8.595955   (third 旬)
    M2 belt B1: 1 Mar 00:30 0 (baseline), 12 Mar 07:00 1.001 → +1.001 t (raw 1.001, k = 0)

    second 旬 of March (11–20) for M1: gross 0.999, raw 0.954045 → 0.954
        (each day shows 0.318, and 3 × 0.318 = 0.954 too; the month shows the rule:)
    March for M1: gross 10.000, raw 9.55 (exact 0.318015 × 3 + 8.595955 = 9.55)
    org C1, second 旬: M1 0.954045 + M2 1.001 = 1.955045 → 1.955 raw; gross 0.999 + 1.001 = 2.000
    org C1, March: raw 9.55 + 1.001 = 10.551, gross 11.001
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.conftest import SQLITE_ONLY
from tests.support.documents import pdf_text
from tests.support.world import totalizer, world

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def D(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=local(2026, 4, 2, 9)) as w:
        w.mine("M1")
        w.mine("M2", station="S2")
        w.ok(
            w.post(
                "/mines/M1/coefficients",
                {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-06-30"},
            )
        )
        m1 = [
            (local(2026, 3, 1, 0, 30), "100"),
            (local(2026, 3, 11, 9), "100.333"),
            (local(2026, 3, 15, 10), "100.666"),
            (local(2026, 3, 20, 23), "100.999"),
            (local(2026, 3, 25, 8), "110"),
        ]
        w.ok(w.upload("S1", [totalizer(i + 1, t, "B1", v) for i, (t, v) in enumerate(m1)]))
        m2 = [(local(2026, 3, 1, 0, 30), "0"), (local(2026, 3, 12, 7), "1.001")]
        w.ok(w.upload("S2", [totalizer(i + 1, t, "B1", v) for i, (t, v) in enumerate(m2)]))
        yield w


def test_mine_dekad_has_a_row_per_day_and_the_total(w: Any) -> None:
    r = w.ok(w.get("/mines/M1/reports/dekad/2026-03-2"))
    assert (r["first_day"], r["last_day"], r["title"]) == ("2026-03-11", "2026-03-20", "旬报表")
    assert [row["key"] for row in r["rows"]][:2] == ["2026-03-11", "2026-03-12"]
    assert len(r["rows"]) == 10
    raw = {row["key"]: D(row["raw_t"]) for row in r["rows"] if row["raw_t"]}
    assert raw == {"2026-03-11": D("0.318"), "2026-03-15": D("0.318"), "2026-03-20": D("0.318")}
    assert (D(r["total"]["gross_t"]), D(r["total"]["raw_t"])) == (D("0.999"), D("0.954"))
    # capacity of ten days: 10 × 1,000 t
    assert D(r["total"]["capacity_t"]) == D(10000)


def test_mine_month_total_is_the_exact_sum_rounded_once(w: Any) -> None:
    r = w.ok(w.get("/mines/M1/reports/month/2026-03"))
    assert len(r["rows"]) == 31
    shown = sum(D(row["raw_t"]) for row in r["rows"])
    assert shown == D("9.550")  # 0.318 × 3 + 8.596 = 9.550: here both agree
    assert (D(r["total"]["gross_t"]), D(r["total"]["raw_t"])) == (D(10), D("9.55"))
    # a month's capacity is M = D × 30 = 30,000 t whatever its days (31 here), as the
    # overproduction rules and the dashboard judge it
    assert D(r["total"]["capacity_t"]) == D(30000)


def test_a_years_and_a_quarters_capacity_is_the_periods_own(w: Any) -> None:
    """A year's capacity is A = 330,000 t (not 12 months × M = 360,000 t); a quarter's
    is its three months' M, 90,000 t; a mine's row in its org's month report is M too."""
    y = w.ok(w.get("/mines/M1/reports/year/2026"))
    assert D(y["total"]["capacity_t"]) == D(330000)
    assert [D(row["capacity_t"]) for row in y["rows"]] == [D(30000)] * 12
    q = w.ok(w.get("/mines/M1/reports/quarter/2026-Q1"))
    assert D(q["total"]["capacity_t"]) == D(90000)
    month = w.ok(w.get("/orgs/C1/reports/month/2026-03"))
    assert [D(row["capacity_t"]) for row in month["rows"]] == [D(30000), D(30000)]
    assert D(month["total"]["capacity_t"]) == D(60000)
    year = w.ok(w.get("/orgs/C1/reports/year/2026"))
    assert D(year["total"]["capacity_t"]) == D(660000)


def test_org_reports_have_a_row_per_mine_and_totals(w: Any) -> None:
    r = w.ok(w.get("/orgs/C1/reports/dekad/2026-03-2"))
    assert r["scope"] == "org"
    rows = {row["key"]: row for row in r["rows"]}
    assert set(rows) == {"M1", "M2"}
    assert D(rows["M1"]["raw_t"]) == D("0.954") and D(rows["M2"]["raw_t"]) == D("1.001")
    # 0.954045 + 1.001 = 1.955045 → 1.955 (rounded once)
    assert (D(r["total"]["gross_t"]), D(r["total"]["raw_t"])) == (D(2), D("1.955"))
    month = w.ok(w.get("/orgs/C1/reports/month/2026-03"))
    assert (D(month["total"]["gross_t"]), D(month["total"]["raw_t"])) == (D("11.001"), D("10.551"))
    table = w.get("/orgs/C1/reports/month/2026-03", format="csv").content.decode("utf-8-sig")
    got = {row["key"]: row for row in csv.DictReader(io.StringIO(table))}
    assert set(got) == {"M1", "M2", "*"} and D(got["*"]["raw_t"]) == D("10.551")
    sheet = load_workbook(
        io.BytesIO(w.get("/orgs/C1/reports/month/2026-03", format="xlsx").content)
    ).active
    assert sheet is not None
    total = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "合计 Total")
    assert (D(total[2]), D(total[3])) == (D("11.001"), D("10.551"))
    text, _ = pdf_text(w.get("/orgs/C1/reports/month/2026-03", format="pdf").content)
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()}
    # the mines' rows and the total: gross 11.001 t, raw 10.551 t (worked out above)
    assert {"M1", "M2"} <= set(rows), text
    assert "11.001" in text and "10.551" in text, text


def test_quarter_year_and_shift_reports(w: Any) -> None:
    q = w.ok(w.get("/mines/M1/reports/quarter/2026-Q1"))
    assert [row["key"] for row in q["rows"]] == ["2026-01", "2026-02", "2026-03"]
    assert D(q["total"]["raw_t"]) == D("9.55")
    y = w.ok(w.get("/mines/M1/reports/year/2026"))
    assert len(y["rows"]) == 12 and D(y["total"]["raw_t"]) == D("9.55")
    # 早班 (08–16) of 25 Mar: the 9.001 t of 08:00
    s = w.ok(w.get("/mines/M1/reports/shift/2026-03-25", shift="早班"))
    assert s["title"] == "班报表 早班" and len(s["rows"]) == 8
    assert D(s["total"]["gross_t"]) == D("9.001")
    assert D(w.ok(w.get("/mines/M1/reports/shift/2026-03-25", shift="1"))["total"]["gross_t"]) == 0


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("kind", "key"),
    [("month", "2026-13"), ("dekad", "2026-03-4"), ("quarter", "2026-Q5"), ("year", "1969"),
     ("shift", "2026-02-30"), ("month", "2026-3")],
)  # fmt: skip
def test_period_keys_are_checked(w: Any, kind: str, key: str) -> None:
    assert w.get(f"/mines/M1/reports/{kind}/{key}").status_code == 422


@SQLITE_ONLY
def test_the_pages_download_the_same_files_as_the_api_with_the_session(w: Any) -> None:
    """The buttons of the report pages use the signed-in session (the API takes tokens
    only): the same CSV, the same workbook's cells, a PDF."""
    from tests.duty.pages import people, sign_in

    people(w)
    page_client = TestClient(w.client.app)
    sign_in(page_client, "chief")
    # the same figures; the page's columns named for a reader, the API's by key
    api_csv = w.get("/mines/M1/reports/month/2026-03", format="csv")
    page_csv = page_client.get("/reports/mines/M1/month/2026-03.csv")
    assert page_csv.status_code == 200
    assert page_csv.headers["content-disposition"] == api_csv.headers["content-disposition"]
    page_rows, api_rows = (_csv_rows(a) for a in (page_csv, api_csv))
    assert api_rows[0][:3] == ["key", "label", "gross_t"]
    assert page_rows[0] == [
        "编号", "时间", "毛煤 (t)", "原煤 (t)", "其中人工 (t)", "生产能力 (t)",
        "产量计划 (t)", "产能比", "超产",
    ]  # fmt: skip
    assert [r[:-1] for r in page_rows[1:]] == [r[:-1] for r in api_rows[1:]]
    assert {r[-1] for r in page_rows[1:]} <= {"是", "否"}
    assert page_rows[-1][:2] == ["*", "合计"]
    org_rows = _csv_rows(page_client.get("/reports/orgs/C1/month/2026-03.csv"))
    api_org = _csv_rows(w.get("/orgs/C1/reports/month/2026-03", format="csv"))
    assert org_rows[0][1] == "矿井"
    assert [r[2:-1] for r in org_rows[1:]] == [r[2:-1] for r in api_org[1:]]
    shift = page_client.get("/reports/mines/M1/shift/2026-03-11.xlsx", params={"shift": "1"})
    api_shift = w.get("/mines/M1/reports/shift/2026-03-11", format="xlsx", shift="1")
    cells = [
        [[c.value for c in row] for row in load_workbook(io.BytesIO(a.content)).active.rows]
        for a in (shift, api_shift)
    ]
    assert cells[0] == cells[1]
    daily = page_client.get("/reports/daily/M1/2026-03-11.pdf")
    assert daily.status_code == 200 and daily.content.startswith(b"%PDF")
    # the API itself still wants a token
    assert page_client.get("/api/v1/mines/M1/reports/month/2026-03?format=csv").status_code == 401
    # a file of a mine outside the user's data is not given; an unknown format is refused
    assert page_client.get("/reports/mines/NOPE/month/2026-03.csv").status_code == 404
    assert page_client.get("/reports/mines/M1/month/2026-03.json").status_code == 422


def _csv_rows(answer: Any) -> list[list[str]]:
    """A CSV answer's rows (after its byte-order mark, if any)."""
    text = answer.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))
