"""An alarm's value and threshold as the pages show them."""

from __future__ import annotations

from coalwatch.domain.alarms import shown_figure


def test_a_figure_is_shown_in_groups_of_thousands_with_its_unit() -> None:
    assert shown_figure("60853.838") == "60,853.838"  # tonnes keep their three decimals
    assert shown_figure("1234567") == "1,234,567"
    assert shown_figure("62.500") == "62.500"
    assert shown_figure("1440 min") == "1,440 分钟"
    assert shown_figure("45 min", lambda m: {"分钟": "min"}.get(m, m)) == "45 min"
    # not one figure: as stored
    assert shown_figure("1.100, 1.200") == "1.100, 1.200"
    assert shown_figure("2026-03-15 12:00") == "2026-03-15 12:00"
    assert shown_figure(None) is None
