"""Supervisory documents that go down and get answered, as rules.

A rectification notice 整改通知书 goes from a supervising unit to one mine, about one or
more alarms, faults or findings, with the problem, the required measures and a deadline
(限期整改); an instruction 指令 goes to one mine or to every mine of the unit's subtree
(县中心下达的指令). At the mine the duty operator acknowledges it 签收, passes it on to the
dispatch and those responsible (及时通知矿调度及有关负责人) and answers with what was done
(及时反馈处理结果). A notice's answer is verified by the issuer: closed 验收合格, or sent
back 退回 with a reason (and a new deadline, when given) to be answered again.

A document is overdue at a mine while it is not acknowledged past its acknowledgement
time (unacknowledged 未签收) or not answered past its deadline (unanswered 逾期未反馈).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


def _(message: str) -> str:
    """Marks a label for the message catalog; it is translated where it is shown."""
    return message


class Kind(StrEnum):
    NOTICE = "notice"
    INSTRUCTION = "instruction"


class State(StrEnum):
    """Where a document stands at one mine."""

    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    RETURNED = "returned"
    CLOSED = "closed"


class Stage(StrEnum):
    """What is overdue at a mine."""

    UNACKNOWLEDGED = "unacknowledged"
    UNANSWERED = "unanswered"


#: what a mine cites a notice about: an alarm, a fault (by id), an overproduction of a
#: period (the mine's hour/day/month/year, as text) or a finding written by the issuer
LINK_KINDS = ("alarm", "fault", "overproduction", "finding")

#: the duty operator is on duty around the clock: a document is acknowledged within
#: this many hours unless the issuer allows longer
DEFAULT_ACK_HOURS = 2
MAX_ACK_HOURS = 72
#: at most this far ahead a deadline may be set (a year)
MAX_DEADLINE = timedelta(days=366)

KIND_LABELS: dict[str, str] = {
    Kind.NOTICE: _("整改通知书"),
    Kind.INSTRUCTION: _("指令"),
}
#: the document number's letters per kind: 整改 ZG, 指令 ZL
NUMBER_LETTERS: dict[str, str] = {Kind.NOTICE: "ZG", Kind.INSTRUCTION: "ZL"}
STATE_LABELS: dict[str, str] = {
    State.ISSUED: _("待签收"),
    State.ACKNOWLEDGED: _("已签收"),
    State.ANSWERED: _("已反馈"),
    State.RETURNED: _("已退回"),
    State.CLOSED: _("已关闭"),
}
STAGE_LABELS: dict[str, str] = {
    Stage.UNACKNOWLEDGED: _("逾期未签收"),
    Stage.UNANSWERED: _("逾期未反馈"),
}
LINK_LABELS: dict[str, str] = {
    "alarm": _("报警"),
    "fault": _("故障"),
    "overproduction": _("超产"),
    "finding": _("检查发现"),
}

#: the states in which a document still waits for the mine
OPEN_AT_MINE = frozenset({State.ISSUED, State.ACKNOWLEDGED, State.RETURNED})


def number(unit_code: str, kind: Kind, year: int, seq: int) -> str:
    """A document's number 文号: the issuing unit, the kind, the year and its sequence."""
    return f"{unit_code}-{NUMBER_LETTERS[kind]}-{year}-{seq:03d}"


def may_acknowledge(state: State) -> bool:
    return state == State.ISSUED


def may_answer(state: State) -> bool:
    """A mine answers what it acknowledged, and a notice sent back to it."""
    return state in (State.ACKNOWLEDGED, State.RETURNED)


def may_verify(kind: Kind, state: State) -> bool:
    """Only a notice is verified, once answered; an instruction's answer completes it."""
    return kind == Kind.NOTICE and state == State.ANSWERED


def after_answer(kind: Kind) -> State:
    """An instruction is done once answered; a notice waits for the issuer's verification."""
    return State.CLOSED if kind == Kind.INSTRUCTION else State.ANSWERED


@dataclass(frozen=True, slots=True)
class Due:
    """When a mine must have acknowledged and answered."""

    ack_due: datetime
    deadline: datetime


def overdue(state: State, due: Due, now: datetime) -> frozenset[Stage]:
    """What is overdue at ``now``: unacknowledged past its time, unanswered past the
    deadline (both at once for a document nobody has touched)."""
    stages = set()
    if state == State.ISSUED and now >= due.ack_due:
        stages.add(Stage.UNACKNOWLEDGED)
    if state in OPEN_AT_MINE and now >= due.deadline:
        stages.add(Stage.UNANSWERED)
    return frozenset(stages)


def check_times(issued_at: datetime, ack_hours: int, deadline: datetime) -> str | None:
    """Why these times cannot be a document's (None: they can)."""
    if not 1 <= ack_hours <= MAX_ACK_HOURS:
        return f"ack_hours must be between 1 and {MAX_ACK_HOURS}"
    if deadline <= issued_at:
        return "the deadline must be after the time of issue"
    if deadline - issued_at > MAX_DEADLINE:
        return "the deadline may be at most a year ahead"
    return None
