"""The duty rules of domain/duty.py: shift slots, two patrols per shift, the five
handover checks, signing order, carrying pending issues."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from coalwatch.domain.duty import (
    CHECK_CODES,
    Check,
    HandoverState,
    Issue,
    carried_over,
    check_handover,
    handover_state,
    next_signer,
    patrols_short,
    slot,
    slot_at,
)
from coalwatch.domain.reports import DEFAULT_SHIFTS, Shift

SH = ZoneInfo("Asia/Shanghai")


def test_the_shift_of_an_instant_on_a_shanghai_boundary() -> None:
    # 08:00 local = 00:00 UTC: the 早班 begins, the 夜班 has ended
    at = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)
    assert slot_at(at, DEFAULT_SHIFTS, SH).name == "早班"
    just_before = datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC)  # 07:59:59 local
    night = slot_at(just_before, DEFAULT_SHIFTS, SH)
    assert (night.name, night.day) == ("夜班", date(2026, 3, 15))


def test_a_night_shift_across_midnight_belongs_to_the_day_it_begins() -> None:
    shifts = (Shift("白班", 8, 12), Shift("夜班", 20, 12))
    night = slot(date(2026, 3, 15), shifts[1], SH)
    # 20:00 on the 15th to 08:00 on the 16th, local
    assert night.start == datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    assert night.end == datetime(2026, 3, 16, 0, 0, tzinfo=UTC)
    at_3am = datetime(2026, 3, 15, 19, 0, tzinfo=UTC)  # 03:00 on the 16th, local
    assert slot_at(at_3am, shifts, SH) == night


def test_fewer_than_two_patrols_are_flagged_once_the_shift_has_ended() -> None:
    early = slot(date(2026, 3, 15), DEFAULT_SHIFTS[1], SH)  # 早班 08:00–16:00 local
    end = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)  # 16:00 local
    assert early.end == end
    assert not patrols_short(1, early, datetime(2026, 3, 15, 7, 59, 59, tzinfo=UTC))
    assert patrols_short(1, early, end)
    assert not patrols_short(2, early, end)


def test_the_five_checks_each_once_and_a_fault_needs_a_note() -> None:
    good = [Check(code, True) for code in CHECK_CODES]
    check_handover(good)
    with pytest.raises(ValueError, match="missing"):
        check_handover(good[:4])
    with pytest.raises(ValueError, match="say why"):
        check_handover([*good[:4], Check(CHECK_CODES[4], False)])
    check_handover([*good[:4], Check(CHECK_CODES[4], False, "交接未完：B1 调校记录")])
    with pytest.raises(ValueError, match="unknown"):
        check_handover([*good, Check("coffee", True)])


def test_the_outgoing_signs_first_then_the_incoming() -> None:
    assert next_signer(handover_state(False, False)) == "outgoing"
    assert next_signer(handover_state(True, False)) == "incoming"
    assert handover_state(True, True) is HandoverState.COMPLETE
    assert next_signer(HandoverState.COMPLETE) is None


def test_unresolved_issues_are_carried_over() -> None:
    issues = [Issue(1, "B1 跑偏", False), Issue(2, "打印机缺纸", True)]
    assert list(carried_over(issues)) == [Issue(0, "B1 跑偏", False, origin=1)]
