"""The archive's retention, the shutdown declaration's written report and lateness, and
who signs the summaries, as pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from coalwatch.domain.alarms import needs_written_report, shutdown_declared_late
from coalwatch.domain.archive import Owner, kept_until, may_delete, required, state
from coalwatch.domain.reports import Signer
from coalwatch.domain.summaries import SummaryKind, next_signer

T = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def test_a_replaced_document_is_kept_two_years_from_its_replacement() -> None:
    assert kept_until(date(2026, 6, 1)) == date(2028, 6, 1)
    # 29 February has no day two years on: kept until 1 March
    assert kept_until(date(2028, 2, 29)) == date(2030, 3, 1)
    assert not may_delete(T, date(2028, 5, 31))
    assert may_delete(T, date(2028, 6, 1))
    assert not may_delete(None, date(2040, 1, 1))  # a current document: never


def test_the_checklists_of_a_mine_and_a_center() -> None:
    mine = {k.code for k in required(Owner.MINE)}
    center = {k.code for k in required(Owner.CENTER)}
    assert len(mine) == 12 and "layout_drawing" in mine and "shutdown_report" not in mine
    assert center < mine and "coefficient_rules" not in center
    assert state(False, False, None, False) == "missing"
    assert state(True, False, "chief_engineer", False) == "unapproved"
    assert state(True, False, None, True) == "expired"
    assert state(True, True, "chief_engineer", False) == "ok"


def test_two_days_or_more_needs_a_written_report_and_late_is_after_the_start() -> None:
    assert needs_written_report(T, T + timedelta(days=2), 2)  # 含2天
    assert not needs_written_report(T, T + timedelta(days=2) - timedelta(seconds=1), 2)
    assert not shutdown_declared_late(T, T)
    assert shutdown_declared_late(T, T + timedelta(seconds=1))


def test_who_signs_a_summary_and_in_which_order() -> None:
    assert next_signer(SummaryKind.MONTH, []) is Signer.DUTY_OPERATOR
    assert next_signer(SummaryKind.YEAR, [Signer.DUTY_OPERATOR]) is Signer.DUTY_MINE_MANAGER
    assert next_signer(SummaryKind.ABNORMAL, []) is Signer.DUTY_MINE_MANAGER
    assert next_signer(SummaryKind.ABNORMAL, [Signer.DUTY_MINE_MANAGER]) is None
    with pytest.raises(ValueError):
        next_signer(SummaryKind.MONTH, [Signer.CHIEF_ENGINEER])
