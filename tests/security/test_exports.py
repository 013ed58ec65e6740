"""Every CSV and XLSX download goes through one writer of cells: a text cannot carry a
character a workbook cannot hold (a 500 before) nor be read as a formula (OWASP CSV
injection), and numbers stay numbers."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from coalwatch.adapters.documents import Sheet, Table, sheet_text, xlsx_bytes
from coalwatch.web.exports import csv_response, xlsx_response
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")
FORMULA = '=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("=1+2", "'=1+2"),
        (FORMULA, "'" + FORMULA),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|x", "'-2+3+cmd|x"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tHIDDEN", "'\tHIDDEN"),
        ("\r=1", "'\r=1"),
        ("a\x01b", "a\ufffdb"),
        ("\x00=1", "\ufffd=1"),  # the NUL is replaced first: not a formula any more
        ("a\x7fb\ud800c", "a\ufffdb\ufffdc"),
        ("-12.5", "-12.5"),  # a signed number is only a number
        ("+86", "+86"),
        ("-", "-"),
        ("皮带秤 B1", "皮带秤 B1"),
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_a_text_cell_is_neutralised(given: str, written: str) -> None:
    assert sheet_text(given) == written


def _cells(content: bytes) -> list[Any]:
    book = load_workbook(io.BytesIO(content))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def test_the_sheet_writers_keep_numbers_and_neutralise_texts() -> None:
    rows: list[list[Any]] = [[FORMULA, Decimal("12.345"), 7, "a\x01b", -3]]
    csv = csv_response("t", ["=head", "n", "i", "s", "m"], rows).body.decode("utf-8-sig")
    assert csv.splitlines()[0] == "'=head,n,i,s,m"
    # 'quote' doubled by the CSV writer; the numbers as digits, the negative one too
    assert csv.splitlines()[1] == '"\'=HYPERLINK(""http://x"")",12.345,7,a\ufffdb,-3'
    for content in (
        xlsx_response("t", "=title[1]", ["=head", "n", "i", "s", "m"], rows).body,
        xlsx_bytes([Sheet("t", ["=heading\x02"], [Table(["=head"], rows)], notes=["@note"])]),
    ):
        cells = _cells(bytes(content))
        assert all(cell.data_type != "f" for cell in cells)
        values = {cell.value for cell in cells}
        assert "'" + FORMULA in values and "a\ufffdb" in values
        numbers = [cell for cell in cells if cell.value in (Decimal("12.345"), 12.345, 7, -3)]
        assert len(numbers) == 3 and all(cell.data_type == "n" for cell in numbers)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=datetime(2026, 3, 15, 12, 0, tzinfo=SH)) as w:
        w.mine("M1", belts=("B1",))
        yield w


def test_control_characters_and_formulas_reach_the_daily_report_and_the_fault_ledger(
    w: World,
) -> None:
    st = w.stations["S1"]
    at = datetime(2026, 3, 15, 10, 0, tzinfo=SH)
    (seq,) = st.seqs(1)
    event = {"seq": seq, "ts": at, "type": "event", "point": "B1", "event": "device_fault"}
    w.ok(w.upload("S1", [{**event, "detail": f"\x01{FORMULA}"}]))
    w.ok(
        w.post(
            "/mines/M1/ledger/faults",
            {"point": "B1", "phenomenon": FORMULA, "occurred_at": at.isoformat()},
        )
    )
    w.ok(
        w.post(
            "/mines/M1/manual-production",
            {
                "point": "B1",
                "start": datetime(2026, 3, 15, 8, 0, tzinfo=SH).isoformat(),
                "end": datetime(2026, 3, 15, 9, 0, tzinfo=SH).isoformat(),
                "gross_t": 5,
                "reason": f"{FORMULA}\x01",
            },
        )
    )
    for path, params in (
        ("/mines/M1/reports/daily/2026-03-15", {"format": "xlsx"}),
        ("/mines/M1/ledger/faults", {"format": "xlsx"}),
    ):
        response = w.get(path, **params)
        assert response.status_code == 200, (path, response.text)
        cells = _cells(response.content)
        assert all(cell.data_type != "f" for cell in cells), path
        texts = [cell.value for cell in cells if isinstance(cell.value, str)]
        assert all("\x01" not in text for text in texts), path
        assert any(text.startswith("'" + FORMULA) for text in texts), (path, texts)
        assert not any(text.startswith("=") for text in texts), path
    csv = w.get("/mines/M1/ledger/faults", format="csv")
    assert csv.status_code == 200
    assert "\x01" not in csv.text
    assert '"\'=HYPERLINK(""http://x"")"' in csv.text
    assert "\n=" not in csv.text and ",=" not in csv.text and ',"=' not in csv.text
