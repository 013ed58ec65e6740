"""The duty log 运行日志, patrols 巡检 and shift handover 交接班, as rules.

Shifts are the mine's report shifts (:mod:`coalwatch.domain.reports`): the shift of a
day ``D`` starting at hour ``h`` runs from ``D h:00`` local for its hours (a night shift
may end on the next day). From the seed: every shift patrols the field equipment at
least twice 每班必须至少对现场设备进行巡检二次; at the handover both sides check five
things together 交接班主要内容 and sign; what the outgoing shift left unfinished is handed
over 对上一班未处理的事项要特别交代清楚.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from coalwatch.domain.reports import Shift

#: patrols of the field equipment per shift, at least
MIN_PATROLS_PER_SHIFT = 2


def _(message: str) -> str:
    """Marks a label for the message catalog; it is translated where it is shown."""
    return message


#: the five checks of the handover, as the seed lists them (交接班主要内容 1–5)
HANDOVER_CHECKS: tuple[tuple[str, str], ...] = (
    ("system", _("系统、信号传输及电脑终端运行正常")),
    ("network", _("网络通讯传输、反馈正常，安全措施到位")),
    ("workplace", _("监控台、办公室整洁，设备用品按规定摆放")),
    ("records", _("各种记录报表齐全、正确、无误")),
    ("unfinished", _("其他未完成工作移交完善")),
)
CHECK_CODES = tuple(code for code, _label in HANDOVER_CHECKS)
CHECK_LABELS = dict(HANDOVER_CHECKS)


@dataclass(frozen=True, slots=True, order=True)
class ShiftSlot:
    """One shift on one day: [start, end) as aware instants."""

    start: datetime
    end: datetime
    day: date
    name: str

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def ended(self, now: datetime) -> bool:
        return now >= self.end


def slot(day: date, shift: Shift, tz: ZoneInfo) -> ShiftSlot:
    """The shift ``shift`` of ``day`` in the time zone ``tz`` (wall-clock hours)."""
    end_hour = shift.start_hour + shift.hours
    start = datetime.combine(day, time(shift.start_hour), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=end_hour // 24), time(end_hour % 24), tzinfo=tz)
    return ShiftSlot(start, end, day, shift.name)


def slots_between(
    first: date, last: date, shifts: Sequence[Shift], tz: ZoneInfo
) -> list[ShiftSlot]:
    """Every shift of the days ``first`` to ``last`` (both included), in time order."""
    out: list[ShiftSlot] = []
    day = first
    while day <= last:
        out.extend(slot(day, s, tz) for s in shifts)
        day += timedelta(days=1)
    return sorted(out)


def slot_at(instant: datetime, shifts: Sequence[Shift], tz: ZoneInfo) -> ShiftSlot:
    """The shift during which ``instant`` falls (a shift begun the day before included)."""
    local_day = instant.astimezone(tz).date()
    for candidate in slots_between(local_day - timedelta(days=1), local_day, shifts, tz):
        if candidate.contains(instant):
            return candidate
    raise ValueError(f"no shift covers {instant.isoformat()}")


def next_slot(current: ShiftSlot, shifts: Sequence[Shift], tz: ZoneInfo) -> ShiftSlot:
    """The shift that takes over from ``current`` (the incoming shift)."""
    return slot_at(current.end, shifts, tz)


def patrols_short(patrols: int, shift: ShiftSlot, now: datetime) -> bool:
    """A shift that has ended with fewer than two patrols is flagged 巡检不足."""
    return shift.ended(now) and patrols < MIN_PATROLS_PER_SHIFT


@dataclass(frozen=True, slots=True)
class Check:
    item: str
    ok: bool
    note: str | None = None


def check_handover(checks: Sequence[Check]) -> None:
    """The five checks, each once; a check found not in order says why in its note."""
    items = [c.item for c in checks]
    unknown = sorted(set(items) - set(CHECK_CODES))
    if unknown:
        raise ValueError(f"unknown handover checks {unknown}; the checks are {list(CHECK_CODES)}")
    if sorted(items) != sorted(CHECK_CODES):
        missing = [c for c in CHECK_CODES if c not in items]
        doubled = sorted({i for i in items if items.count(i) > 1})
        raise ValueError(f"each of the five checks once (missing {missing}, twice {doubled})")
    for check in checks:
        if not check.ok and not (check.note or "").strip():
            raise ValueError(f"check {check.item!r} is not in order: say why in its note")


class HandoverState(StrEnum):
    """draft → signed by the outgoing operator (frozen) → signed by the incoming one."""

    DRAFT = "draft"
    OUTGOING_SIGNED = "outgoing_signed"
    COMPLETE = "complete"


def handover_state(outgoing_signed: bool, incoming_signed: bool) -> HandoverState:
    if incoming_signed:
        return HandoverState.COMPLETE
    return HandoverState.OUTGOING_SIGNED if outgoing_signed else HandoverState.DRAFT


def next_signer(state: HandoverState) -> str | None:
    """Whose signature the handover waits for: 'outgoing', then 'incoming', then none."""
    return {
        HandoverState.DRAFT: "outgoing",
        HandoverState.OUTGOING_SIGNED: "incoming",
        HandoverState.COMPLETE: None,
    }[state]


@dataclass(frozen=True, slots=True)
class Issue:
    """A pending issue 遗留问题 of a handover; ``origin`` is the issue it was carried from."""

    key: int
    text: str
    resolved: bool
    origin: int | None = None


def carried_over(previous: Sequence[Issue]) -> Iterator[Issue]:
    """The issues the next handover inherits: those of the previous one not resolved,
    each pointing to where it came from."""
    for issue in previous:
        if not issue.resolved:
            yield Issue(key=0, text=issue.text, resolved=False, origin=issue.key)
