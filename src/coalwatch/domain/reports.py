"""Reports 报表: shifts, ten-day periods 旬, quarters, and the signing order of the
daily monitoring report 监测日报表."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift 班次: its name and the local hours it covers, [start_hour, start_hour + hours)."""

    name: str
    start_hour: int
    hours: int

    def covers(self, hour: int) -> bool:
        return any((self.start_hour + i) % 24 == hour for i in range(self.hours))


#: the default: three shifts of 8 hours 三班制
DEFAULT_SHIFTS = (
    Shift("夜班", 0, 8),
    Shift("早班", 8, 8),
    Shift("中班", 16, 8),
)


def check_shifts(shifts: Sequence[Shift]) -> None:
    """Shifts must cover every hour of the day exactly once."""
    counts = [sum(1 for s in shifts if s.covers(h)) for h in range(24)]
    if any(c != 1 for c in counts):
        missing = [h for h, c in enumerate(counts) if c == 0]
        doubled = [h for h, c in enumerate(counts) if c > 1]
        raise ValueError(f"shifts must cover each hour once (missing {missing}, twice {doubled})")


def shift_of(hour: int, shifts: Sequence[Shift] = DEFAULT_SHIFTS) -> Shift:
    for shift in shifts:
        if shift.covers(hour):
            return shift
    raise ValueError(f"no shift covers hour {hour}")


def dekad(day: date) -> tuple[date, date]:
    """The ten-day period 旬 of a day: 上旬 1–10, 中旬 11–20, 下旬 21–end of month."""
    if day.day <= 10:
        return day.replace(day=1), day.replace(day=10)
    if day.day <= 20:
        return day.replace(day=11), day.replace(day=20)
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day.replace(day=21), following - timedelta(days=1)


def quarter(day: date) -> tuple[date, date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, first_month, 1)
    following = (
        date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    )
    return first, following - timedelta(days=1)


class Signer(StrEnum):
    """Who signs the daily report, in this order 值机员 → 值班矿长 → 总工程师."""

    DUTY_OPERATOR = "duty_operator"
    DUTY_MINE_MANAGER = "duty_mine_manager"
    CHIEF_ENGINEER = "chief_engineer"


SIGNING_ORDER = (Signer.DUTY_OPERATOR, Signer.DUTY_MINE_MANAGER, Signer.CHIEF_ENGINEER)
SIGNER_LABELS = {
    Signer.DUTY_OPERATOR: "产量监控值机员",
    Signer.DUTY_MINE_MANAGER: "值班矿长",
    Signer.CHIEF_ENGINEER: "总工程师",
}


def next_signer(signed: Sequence[Signer]) -> Signer | None:
    """Whose signature the report waits for; None once all have signed."""
    if list(signed) != list(SIGNING_ORDER[: len(signed)]):
        raise ValueError(f"signatures out of order: {[s.value for s in signed]}")
    return SIGNING_ORDER[len(signed)] if len(signed) < len(SIGNING_ORDER) else None
