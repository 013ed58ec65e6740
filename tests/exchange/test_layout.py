"""The layout is data: a province's copy changes field order, names and codes without
code; a copy that names what the writer does not know is refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coalwatch.errors import Invalid
from coalwatch.exchange.layout import DEFAULT_LAYOUT, load_layout

TZ = ZoneInfo("Asia/Shanghai")


def province(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    text = DEFAULT_LAYOUT.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "layout.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_province_reorders_fields_and_recodes(tmp_path: Path) -> None:
    layout = load_layout(
        province(
            tmp_path,
            ('parameters = "CDSS"', 'parameters = "DEF"'),
            (
                'parameters = ["point_code", "point_name", "point_kind", "unit", "rollover_t", '
                '"min_trip_t"]',
                'parameters = ["point_kind", "point_code", "point_name"]',
            ),
            ('belt = "1"', 'belt = "PD"'),
        )
    )
    row = {
        "point_code": "B1",
        "point_name": "皮带",
        "point_kind": layout.code("point_kinds", "belt"),
    }
    text = layout.render(
        {"mine_code": "M1", "mine_name": "矿", "file_time": "t"}, "parameters", [row]
    )
    assert text == "M1;矿;t;1;1~\nPD;B1;皮带~\n"
    at = datetime(2026, 3, 15, 3, 31, tzinfo=UTC)  # 11:31 in Asia/Shanghai
    assert layout.file_name("M1", "parameters", at, TZ) == "M1_DEF_20260315113100.txt"
    header, rows = layout.parse("parameters", text)
    assert header["mine_code"] == "M1" and rows == [row]
    assert layout.decode("point_kinds", "PD") == "belt"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (('"min_trip_t"]', '"min_trip_t", "colour"]'), "unknown field(s) colour"),
        (('skip = "2"', 'skip = "1"'), "point_kinds: two values have one code"),
        (('record_end = "~"', 'record_end = ";"'), "two different characters"),
        (('realtime = ["point_code", ', "realtime = ["), "fields.realtime: needs point_code"),
        (('version = "1"', "version = "), "cannot be read"),
    ],
)
def test_a_bad_layout_says_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], reason: str
) -> None:
    with pytest.raises(Invalid) as caught:
        load_layout(province(tmp_path, change))
    assert reason in str(caught.value.message)


def test_a_file_with_a_wrong_record_is_refused_with_its_place() -> None:
    layout = load_layout()
    with pytest.raises(Invalid, match="record 3 has 2 fields"):
        layout.parse("parameters", "M1;矿;t;1;2~\nB1;n;1;t;;~\nB2;x~\n")
    with pytest.raises(Invalid, match="announces 3 records"):
        layout.parse("parameters", "M1;矿;t;1;3~\nB1;n;1;t;;~\n")
