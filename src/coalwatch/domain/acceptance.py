"""Acceptance 验收 of a mine's monitoring system and the licence's annual inspection 年检.

《山西省煤炭产量监控系统管理规定》第七条: the system of a new, rebuilt or extended mine is
designed, built and accepted together with the mine, and a mine whose system is not
accepted (or failed its acceptance) may not produce. 第十四条: the coal administration
accepts and inspects the system again when the mine resumes production 复产验收 and at
the production licence's annual inspection 年检.

A system is under construction 在建 until a supervising unit accepts it 已验收; it is
suspended 暂停 by that unit (a stop, a failed inspection) until accepted again at the
resumption. Production recorded while it is not accepted is flagged and alarmed.
The history of these decisions is kept; this module says, from that history, in which
state a mine was at an instant and whether it was not accepted at any time of a span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

UNDER_CONSTRUCTION = "under_construction"
ACCEPTED = "accepted"
SUSPENDED = "suspended"
STATE_LABELS: dict[str, str] = {
    UNDER_CONSTRUCTION: "在建",
    ACCEPTED: "已验收",
    SUSPENDED: "暂停",
}
#: what a decision is; the state it leaves the system in is ``RESULT``
KIND_LABELS: dict[str, str] = {
    "acceptance": "投产验收",
    "resumption": "复产验收",
    "inspection": "年检",
    "suspension": "暂停",
}
#: the decision's kind → the states it may be taken from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "acceptance": frozenset({UNDER_CONSTRUCTION}),
    "resumption": frozenset({SUSPENDED}),
    "inspection": frozenset({ACCEPTED}),
    "suspension": frozenset({ACCEPTED, UNDER_CONSTRUCTION}),
}
#: the mark the pages and reports put beside production of a mine not accepted
UNACCEPTED_MARK = "未验收"


@dataclass(frozen=True, slots=True)
class Step:
    """A decision in the history: from ``at`` on (the start of the day of the act, as on
    its record) the system is in ``state``."""

    at: datetime
    state: str


def result(kind: str, passed: bool) -> str:
    """The state a decision leaves: an acceptance, a resumption or an inspection that
    passes accepts; one that fails, and a suspension, suspends (an acceptance that fails
    leaves the system under construction)."""
    if kind == "suspension":
        return SUSPENDED
    if passed:
        return ACCEPTED
    return UNDER_CONSTRUCTION if kind == "acceptance" else SUSPENDED


def state_at(history: Sequence[Step], at: datetime) -> str:
    """The state at ``at``; before the first decision the system is under construction.
    ``history`` is in time order."""
    state = UNDER_CONSTRUCTION
    for step in history:
        if step.at > at:
            break
        state = step.state
    return state


def unaccepted_during(history: Sequence[Step], start: datetime, end: datetime) -> bool:
    """Whether the system was not accepted at any instant of [start, end)."""
    if state_at(history, start) != ACCEPTED:
        return True
    return any(start <= s.at < end and s.state != ACCEPTED for s in history)


def unaccepted_since(history: Sequence[Step], now: datetime) -> datetime | None:
    """Since when the system is not accepted at ``now``: the last decision that left it
    so; None when it is accepted, or when no decision was taken yet (the caller knows
    since when the mine exists)."""
    if state_at(history, now) == ACCEPTED:
        return None
    past = [s for s in history if s.at <= now]
    return past[-1].at if past else None


def inspection_overdue(due: date | None, today: date) -> bool:
    """年检超期: the licence's annual inspection was due before today (a due date of
    today is still in time)."""
    return due is not None and due < today
