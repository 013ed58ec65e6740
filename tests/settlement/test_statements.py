"""Monthly settlement statements 月结算单 from monitored production: the same hand-computed
figures as JSON, CSV, XLSX and PDF. The figures on SQLite and PostgreSQL; the documents made
from them and the checks of a request's month and mine on SQLite.

The fixture month is March 2026 (Asia/Shanghai); the clock stands at 2 April, 09:00.

Mine M1, deduction coefficient k = 4.5 % all half-year, so raw = gross × 0.955.
Belt B1's totalizer: 990 t on 28 Feb 20:00 (baseline), then

    day      reading (local)          gross t         raw t (× 0.955, exact)
    1 Mar    00:00:00  1,000.000       10.000            9.550
    3 Mar    16:00     1,250.125      250.125          238.869375
    10 Mar   12:00     1,600.500      350.375          334.608125
    12 Mar   manual entry 08–10        20.500 (manual)   19.5775
    16 Mar   09:00     2,001.001      400.501          382.478455
    20 Mar   10:00     2,300.000      298.999          285.544045
    31 Mar   23:59:59  2,333.333       33.333           31.833015
    1 Apr    00:00:30  2,340.000        6.667 (April)    6.366985

    March: gross 1,363.833 t (manual 20.5), raw 1,302.460515 t (shown 1,302.461)

Fee items (in the order defined):
    资源税 resource_tax      5.00 yuan/t from 1 Jan, 5.50 from 16 Mar (changes mid-month)
    煤炭价格调节基金 price_fund  0.8765 from 1 Jan
    可持续发展基金 sustainable   1.20 from 1 Apr (nothing in March)

    resource_tax  1–15 Mar:  9.55 + 238.869375 + 334.608125 + 19.5775 = 602.605 t
                             × 5.00 = 3,013.025        → 3,013.03 (half-up: a tie goes up)
    resource_tax 16–31 Mar:  382.478455 + 285.544045 + 31.833015 = 699.855515 t
                             × 5.50 = 3,849.2053325    → 3,849.21
    price_fund    1–31 Mar:  1,302.460515 t × 0.8765 = 1,141.6066413975 → 1,141.61
    total = 3,013.03 + 3,849.21 + 1,141.61 = 8,003.85

Mine M2 (same county C1, k = 0): 100 t on 16 Mar:
    resource_tax 100 × 5.50 = 550.00; price_fund 100 × 0.8765 = 87.65; total 637.65
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.conftest import SQLITE_ONLY
from tests.support.documents import pdf_text
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def D(value: Any) -> Decimal:
    return Decimal(str(value))


READINGS = [
    (local(2026, 2, 28, 20, 0), "990"),
    (local(2026, 3, 1, 0, 0), "1000"),
    (local(2026, 3, 3, 16, 0), "1250.125"),
    (local(2026, 3, 10, 12, 0), "1600.5"),
    (local(2026, 3, 16, 9, 0), "2001.001"),
    (local(2026, 3, 20, 10, 0), "2300"),
    (local(2026, 3, 31, 23, 59, 59), "2333.333"),
    (local(2026, 4, 1, 0, 0, 30), "2340"),
]
ITEMS = [
    ("resource_tax", "资源税"),
    ("price_fund", "煤炭价格调节基金"),
    ("sustainable", "可持续发展基金"),
]
#: (item, first day, last day, rate, raw t shown, raw t exact, amount)
LINES = [
    ("resource_tax", 1, 15, D("5"), D("602.605"), D("602.605"), D("3013.03")),
    ("resource_tax", 16, 31, D("5.5"), D("699.856"), D("699.855515"), D("3849.21")),
    ("price_fund", 1, 31, D("0.8765"), D("1302.461"), D("1302.460515"), D("1141.61")),
]
TOTAL = D("8003.85")


def march_world(url: str) -> Any:
    with world(url, now=NOW) as w:
        w.mine("M1")
        w.mine("M2", org="C1", station="S2")
        w.ok(
            w.post(
                "/mines/M1/coefficients",
                {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-06-30"},
            )
        )
        w.ok(
            w.upload(
                "S1",
                [totalizer(i + 1, ts, "B1", t) for i, (ts, t) in enumerate(READINGS)],
            )
        )
        w.ok(
            w.post(
                "/mines/M1/manual-production",
                {
                    "point": "B1",
                    "start": local(2026, 3, 12, 8).isoformat(),
                    "end": local(2026, 3, 12, 10).isoformat(),
                    "gross_t": "20.5",
                    "reason": "皮带秤故障，人工计量",
                },
            )
        )
        w.ok(
            w.upload(
                "S2",
                [
                    totalizer(1, local(2026, 3, 16, 8), "B1", "500"),
                    totalizer(2, local(2026, 3, 16, 20), "B1", "600"),
                ],
            )
        )
        for code, name in ITEMS:
            w.ok(w.post("/fee-items", {"code": code, "name": name}))
        for code, rate, day in [
            ("resource_tax", "5.00", "2026-01-01"),
            ("resource_tax", 5.5, "2026-03-16"),
            ("price_fund", "0.8765", "2026-01-01"),
            ("sustainable", "1.2", "2026-04-01"),
        ]:
            w.ok(w.post(f"/fee-items/{code}/rates", {"yuan_per_t": rate, "effective_from": day}))
        yield w


@pytest.fixture
def w(database_url: str) -> Any:
    yield from march_world(database_url)


def statement(w: World, mine: str = "M1", month: str = "2026-03") -> dict[str, Any]:
    answer: dict[str, Any] = w.ok(w.get(f"/mines/{mine}/statements/{month}"))
    return answer


def test_statement_matches_the_hand_computed_amounts(w: World) -> None:
    s = statement(w)
    assert [
        (
            line["item"],
            date.fromisoformat(line["first_day"]).day,
            date.fromisoformat(line["last_day"]).day,
            D(line["yuan_per_t"]),
            D(line["raw_t"]),
            Decimal(line["raw_t_exact"]),
            D(line["amount"]),
        )
        for line in s["lines"]
    ] == LINES
    assert [line["name"] for line in s["lines"]] == ["资源税", "资源税", "煤炭价格调节基金"]
    assert D(s["total"]) == TOTAL
    assert s["rounding"].startswith("each line: raw tonnes")
    assert (s["month"], s["first_day"], s["last_day"]) == ("2026-03", "2026-03-01", "2026-03-31")
    assert s["complete"] is True and s["currency"] == "CNY"


def test_statement_shows_its_production_basis(w: World) -> None:
    basis = statement(w)["basis"]
    assert D(basis["gross_t"]) == D("1363.833")
    assert D(basis["raw_t"]) == D("1302.461")
    assert Decimal(basis["raw_t_exact"]) == D("1302.460515")
    assert D(basis["manual_t"]) == D("20.5")
    assert basis["coefficients"] == [
        {"first_day": "2026-03-01", "last_day": "2026-03-31", "percent": 4.5}
    ]
    days = {d["day"]: d for d in basis["days"]}
    assert len(days) == 31
    assert Decimal(days["2026-03-12"]["raw_t_exact"]) == D("19.5775")
    assert D(days["2026-03-12"]["manual_t"]) == D("20.5")
    # the reading of 1 Apr 00:00:30 belongs to April
    assert Decimal(days["2026-03-31"]["raw_t_exact"]) == D("31.833015")


@SQLITE_ONLY
def test_statement_csv_has_the_same_lines_and_total(w: World) -> None:
    response = w.get("/mines/M1/statements/2026-03", format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "half-up to the fen" in response.headers["x-coalwatch-rounding"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [
        (
            r["item"],
            date.fromisoformat(r["first_day"]).day,
            date.fromisoformat(r["last_day"]).day,
            D(r["yuan_per_t"]),
            D(r["raw_t"]),
            D(r["raw_t_exact"]),
            D(r["amount"]),
        )
        for r in rows[:-1]
    ] == LINES
    assert (rows[-1]["item"], rows[-1]["name"], D(rows[-1]["amount"])) == ("total", "合计", TOTAL)


@SQLITE_ONLY
def test_statement_xlsx_has_the_same_lines_total_and_rule(w: World) -> None:
    response = w.get("/mines/M1/statements/2026-03", format="xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = [row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row)]
    header = next(i for i, row in enumerate(rows) if row[0] == "项目编号 Item")
    lines = rows[header + 1 : header + 4]
    assert [(r[0], r[2].day, r[3].day, D(r[4]), D(r[5]), D(r[6])) for r in lines] == [
        (item, a, b, rate, exact, amount) for item, a, b, rate, _, exact, amount in LINES
    ]
    total = rows[header + 4]
    assert total[0] == "合计 Total" and D(total[6]) == TOTAL
    texts = [str(row[0]) for row in rows]
    assert "矿井 Mine: M1 M1 矿" in texts
    assert any("四舍五入到分" in text for text in texts)
    assert any("rounded half-up to the fen" in text for text in texts)


@SQLITE_ONLY
def test_statement_pdf_prints_the_figures_with_embedded_chinese_fonts(
    w: World, tmp_path: Any
) -> None:
    response = w.get("/mines/M1/statements/2026-03", format="pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text, fonts = pdf_text(response.content)
    for expected in ("月结算单", "结算明细", "资源税", "煤炭价格调节基金", "产量依据", "合计"):
        assert expected in text
    for figure in ("3,013.03", "3,849.21", "1,141.61", "8,003.85", "1,302.4605150", "1,363.833"):
        assert figure in text
    assert "四舍五入到分" in text
    # every font is embedded (as a subset): the Chinese prints anywhere
    font_rows = fonts.splitlines()[2:]
    assert font_rows
    assert all(row.split()[-5:-3] == ["yes", "yes"] for row in font_rows), fonts


def test_org_statement_has_a_row_per_mine_and_the_sums(w: World) -> None:
    s = w.ok(w.get("/orgs/C1/statements/2026-03"))
    assert [i["code"] for i in s["items"]] == ["resource_tax", "price_fund", "sustainable"]
    rows = {row["mine"]: row for row in s["mines"]}

    def amounts(row: dict[str, Any]) -> list[Decimal]:
        return [D(a["amount"]) for a in row["amounts"]]

    assert amounts(rows["M1"]) == [D("6862.24"), D("1141.61"), D(0)]
    assert D(rows["M1"]["total"]) == TOTAL
    assert amounts(rows["M2"]) == [D("550"), D("87.65"), D(0)]
    assert D(rows["M2"]["total"]) == D("637.65")
    # sums: 3,013.03 + 3,849.21 + 550.00 = 7,412.24; 1,141.61 + 87.65 = 1,229.26
    assert amounts(s["total"]) == [D("7412.24"), D("1229.26"), D(0)]
    assert D(s["total"]["total"]) == D("8641.50")
    assert D(s["total"]["gross_t"]) == D("1463.833")
    assert Decimal(s["total"]["raw_t_exact"]) == D("1402.460515")

    table = w.get("/orgs/C1/statements/2026-03", format="csv").content.decode("utf-8-sig")
    got = {r["mine"]: r for r in csv.DictReader(io.StringIO(table))}
    assert set(got) == {"M1", "M2", "*"}
    assert [D(got["*"][c]) for c in ("resource_tax", "price_fund", "sustainable", "total")] == [
        D("7412.24"),
        D("1229.26"),
        D(0),
        D("8641.50"),
    ]
    assert D(got["M2"]["raw_t_exact"]) == D(100)


@SQLITE_ONLY
def test_org_statement_documents(w: World, tmp_path: Any) -> None:
    sheet = load_workbook(
        io.BytesIO(w.get("/orgs/C1/statements/2026-03", format="xlsx").content)
    ).active
    assert sheet is not None
    rows = [row for row in sheet.iter_rows(values_only=True) if row[0] is not None]
    total = next(row for row in rows if row[0] == "合计 Total")
    assert D(total[-1]) == D("8641.5")
    text, _ = pdf_text(w.get("/orgs/C1/statements/2026-03", format="pdf").content)
    assert "月结算汇总" in text and "8,641.50" in text and "637.65" in text


def test_running_month_is_provisional(w: World) -> None:
    # April so far: 6.667 t gross × 0.955 = 6.366985 t raw
    #   resource_tax 6.366985 × 5.50 = 35.0184175 → 35.02
    #   price_fund   6.366985 × 0.8765 = 5.58066235… → 5.58
    #   sustainable  6.366985 × 1.20 = 7.640382 → 7.64      total 48.24
    s = statement(w, month="2026-04")
    assert s["complete"] is False
    assert [(line["item"], D(line["amount"])) for line in s["lines"]] == [
        ("resource_tax", D("35.02")),
        ("price_fund", D("5.58")),
        ("sustainable", D("7.64")),
    ]
    assert D(s["total"]) == D("48.24")


def test_a_month_without_production_or_rates_has_no_amount(w: World) -> None:
    s = statement(w, month="2025-12")
    assert s["lines"] == [] and s["total"] == 0
    assert D(s["basis"]["gross_t"]) == 0 and len(s["basis"]["days"]) == 31


@SQLITE_ONLY
@pytest.mark.parametrize("month", ["2026-13", "2026-00", "1969-12", "2200-01"])
def test_months_are_checked(w: World, month: str) -> None:
    response = w.get(f"/mines/M1/statements/{month}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


@SQLITE_ONLY
def test_unknown_mine_or_org_is_not_found(w: World) -> None:
    assert w.get("/mines/NOPE/statements/2026-03").status_code == 404
    assert w.get("/orgs/NOPE/statements/2026-03").status_code == 404
