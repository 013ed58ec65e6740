"""The rules of notices and instructions: what is overdue when, who may act in which state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalwatch.domain.notices import (
    Due,
    Kind,
    Stage,
    State,
    after_answer,
    check_times,
    may_acknowledge,
    may_answer,
    may_verify,
    number,
    overdue,
)

ISSUED = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
# acknowledgement 2 h after issue, the deadline 3 days after
DUE = Due(ack_due=ISSUED + timedelta(hours=2), deadline=ISSUED + timedelta(days=3))


def test_unacknowledged_from_the_acknowledgement_time() -> None:
    assert overdue(State.ISSUED, DUE, DUE.ack_due - timedelta(seconds=1)) == frozenset()
    assert overdue(State.ISSUED, DUE, DUE.ack_due) == {Stage.UNACKNOWLEDGED}
    assert overdue(State.ACKNOWLEDGED, DUE, DUE.ack_due) == frozenset()


def test_unanswered_from_the_deadline_while_the_mine_owes_an_answer() -> None:
    assert overdue(State.ISSUED, DUE, DUE.deadline) == {Stage.UNACKNOWLEDGED, Stage.UNANSWERED}
    assert overdue(State.ACKNOWLEDGED, DUE, DUE.deadline) == {Stage.UNANSWERED}
    assert overdue(State.RETURNED, DUE, DUE.deadline) == {Stage.UNANSWERED}
    # answered (waiting for the issuer) or closed: nothing the mine owes
    assert overdue(State.ANSWERED, DUE, DUE.deadline) == frozenset()
    assert overdue(State.CLOSED, DUE, DUE.deadline) == frozenset()


def test_who_acts_in_which_state() -> None:
    assert may_acknowledge(State.ISSUED) and not may_acknowledge(State.ACKNOWLEDGED)
    assert not may_answer(State.ISSUED)
    assert may_answer(State.ACKNOWLEDGED) and may_answer(State.RETURNED)
    assert may_verify(Kind.NOTICE, State.ANSWERED)
    assert not may_verify(Kind.INSTRUCTION, State.ANSWERED)
    assert not may_verify(Kind.NOTICE, State.ACKNOWLEDGED)
    assert after_answer(Kind.NOTICE) == State.ANSWERED
    assert after_answer(Kind.INSTRUCTION) == State.CLOSED


def test_numbers_and_times() -> None:
    assert number("C1", Kind.NOTICE, 2026, 7) == "C1-ZG-2026-007"
    assert number("C1", Kind.INSTRUCTION, 2026, 12) == "C1-ZL-2026-012"
    assert check_times(ISSUED, 2, ISSUED + timedelta(days=1)) is None
    assert check_times(ISSUED, 0, ISSUED + timedelta(days=1)) is not None
    assert check_times(ISSUED, 73, ISSUED + timedelta(days=1)) is not None
    assert check_times(ISSUED, 2, ISSUED) is not None
    assert check_times(ISSUED, 2, ISSUED + timedelta(days=367)) is not None
