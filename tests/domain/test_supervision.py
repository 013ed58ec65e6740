"""The rules of acceptance (验收, 年检) and of the penalty article (第十八条), directly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import get_args

import pytest

from coalwatch.domain import acceptance as acc
from coalwatch.domain import penalties as pen
from coalwatch.penalties.schemas import MannerCode, OffenceCode


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def decision(**kwargs: object) -> pen.Decision:
    values: dict[str, object] = {
        "serious": False,
        "enterprise_fine": Decimal(30000),
        "principal_fine": None,
        "responsible_fine": None,
        "stop_for_rectification": False,
        "licence_held": False,
    }
    values.update(kwargs)
    return pen.Decision(**values)  # type: ignore[arg-type]


def test_the_offences_are_the_five_items_of_the_article_and_the_api_knows_them_all() -> None:
    assert [o.item for o in pen.OFFENCES] == [1, 2, 3, 4, 5]
    assert set(get_args(OffenceCode)) == set(pen.OFFENCE_BY_CODE)
    assert set(get_args(MannerCode)) == set(pen.MANNERS)
    assert pen.OFFENCE_BY_CODE["system_abandoned"].article == (
        "《山西省煤炭产量监控系统管理规定》第十八条第（五）项"
    )


@pytest.mark.parametrize(
    ("fine", "lawful"),
    [("29999.99", False), ("30000", True), ("50000.00", True), ("50000.01", False)],
)
def test_the_enterprise_fine_is_within_30000_and_50000_yuan(fine: str, lawful: bool) -> None:
    offence = pen.OFFENCE_BY_CODE["uncertified_staff"]
    problems = pen.decision_problems(offence, None, decision(enterprise_fine=Decimal(fine)))
    assert (problems == []) is lawful


def test_a_serious_case_fines_the_principal_and_the_person_responsible_within_their_ranges() -> (
    None
):
    offence = pen.OFFENCE_BY_CODE["overproduction_not_corrected"]
    lawful = decision(
        serious=True,
        principal_fine=Decimal(5000),
        responsible_fine=Decimal(5000),
        stop_for_rectification=True,
    )
    assert pen.decision_problems(offence, None, lawful) == []
    # 30,000 + 5,000 + 5,000
    assert pen.total_fine(lawful) == Decimal(40000)
    too_much = decision(serious=True, principal_fine=Decimal(10001), responsible_fine=Decimal(3000))
    assert len(pen.decision_problems(offence, None, too_much)) == 1
    missing = decision(serious=True, principal_fine=Decimal(5000))
    assert len(pen.decision_problems(offence, None, missing)) == 1


def test_only_a_serious_case_stops_the_mine_holds_the_licence_or_fines_persons() -> None:
    offence = pen.OFFENCE_BY_CODE["system_abandoned"]
    assert len(pen.decision_problems(offence, None, decision(licence_held=True))) == 1
    assert len(pen.decision_problems(offence, None, decision(principal_fine=Decimal(5000)))) == 1


def test_making_the_system_inoperable_names_one_of_the_ways_of_article_29() -> None:
    inoperable = pen.OFFENCE_BY_CODE["made_inoperable"]
    assert len(pen.decision_problems(inoperable, None, decision())) == 1
    assert pen.decision_problems(inoperable, "host_water", decision()) == []
    other = pen.OFFENCE_BY_CODE["system_not_installed"]
    assert len(pen.decision_problems(other, "host_water", decision())) == 1


def test_a_system_is_under_construction_until_accepted_and_flagged_in_every_span_not_accepted() -> (
    None
):
    history = [
        acc.Step(t(10), acc.ACCEPTED),
        acc.Step(t(20), acc.SUSPENDED),
        acc.Step(t(25), acc.ACCEPTED),
    ]
    assert acc.state_at([], t(1)) == acc.UNDER_CONSTRUCTION
    assert acc.state_at(history, t(9, 23)) == acc.UNDER_CONSTRUCTION
    assert acc.state_at(history, t(10)) == acc.ACCEPTED
    assert acc.state_at(history, t(22)) == acc.SUSPENDED
    assert acc.unaccepted_during(history, t(9), t(10)) is True
    assert acc.unaccepted_during(history, t(10), t(20)) is False
    # the suspension starts at the first instant of the span: flagged
    assert acc.unaccepted_during(history, t(20), t(21)) is True
    assert acc.unaccepted_during(history, t(19), t(26)) is True
    assert acc.unaccepted_during(history, t(25), t(31)) is False
    assert acc.unaccepted_since(history, t(22)) == t(20)
    assert acc.unaccepted_since(history, t(26)) is None


def test_what_a_decision_leaves() -> None:
    assert acc.result("acceptance", True) == acc.ACCEPTED
    assert acc.result("acceptance", False) == acc.UNDER_CONSTRUCTION
    assert acc.result("inspection", False) == acc.SUSPENDED
    assert acc.result("resumption", True) == acc.ACCEPTED
    assert acc.result("suspension", True) == acc.SUSPENDED


def test_the_annual_inspection_is_overdue_the_day_after_its_due_day() -> None:
    due = date(2027, 3, 15)
    assert acc.inspection_overdue(due, date(2027, 3, 15)) is False
    assert acc.inspection_overdue(due, date(2027, 3, 16)) is True
    assert acc.inspection_overdue(None, date(2099, 1, 1)) is False
