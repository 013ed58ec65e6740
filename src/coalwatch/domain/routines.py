"""Routine checks 定期检查 and their due dates, as rules.

From the seed's periodic check rules 定期检查、查验、测试制度 and maintenance rules:
patrols at least twice a shift (duty.py), the communication lines checked three times a
week 每周检查三次(或二天一次), a monthly attenuation test 每个月对通讯线路进行衰减测试, a
monthly balance adjustment 每个月需对设备计量端进行平衡调试 (a large difference between two
adjustments shortens the interval), lubrication and cleaning within 30 days of running
设备运行不超过30天内, monthly calibration and maintenance with the manufacturer 配合厂家做好
每个月一次的定期标定和维护, the backup power carrying the equipment 2 hours (below 1 hour:
repair or replace the batteries 不能连续工作1小时时，应及时维修或更换电池), the yearly
inspection 年检 (the mine's self-check, the county's first inspection, the city's
acceptance), and half-monthly calibration of the belt scales (calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum


def _(message: str) -> str:
    """Marks a label for the message catalog; it is translated where it is shown."""
    return message


class Every(StrEnum):
    DAYS = "days"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Routine:
    """A routine check: its label, how often, per point or per mine."""

    code: str
    label: str
    every: Every
    #: the days between two checks, for ``Every.DAYS``
    days: int = 0
    per_point: bool = False


ROUTINES: tuple[Routine, ...] = (
    # three times a week, or every other day: due two days after the last
    Routine("line_check", _("通讯线路检查"), Every.DAYS, days=2),
    Routine("attenuation_test", _("线路衰减测试"), Every.MONTH),
    Routine("maintenance", _("厂家月度标定与维护"), Every.MONTH, per_point=True),
    Routine("balance", _("计量端平衡调试"), Every.MONTH, per_point=True),
    Routine("lubrication", _("润滑与清理"), Every.DAYS, days=30, per_point=True),
    Routine("ups_runtime", _("备用电源放电测试"), Every.MONTH),
    Routine("self_check", _("矿井自检"), Every.YEAR),
    Routine("county_inspection", _("县级初检"), Every.YEAR),
    Routine("city_acceptance", _("市级验收"), Every.YEAR),
)
BY_CODE = {r.code: r for r in ROUTINES}
#: the yearly inspection chain, in its order: each step follows the one before
INSPECTION_CHAIN = ("self_check", "county_inspection", "city_acceptance")

#: the backup power carries the equipment this long (minutes)
UPS_EXPECTED_MINUTES = 120
#: below this it must be repaired or its batteries replaced
UPS_REPLACE_BELOW_MINUTES = 60


class Verdict(StrEnum):
    OK = "ok"
    BELOW_EXPECTED = "below_expected"
    REPLACE_BATTERIES = "replace_batteries"


VERDICT_LABELS: dict[str, str] = {
    Verdict.OK: _("合格"),
    Verdict.BELOW_EXPECTED: _("不足 2 小时，需检修"),
    Verdict.REPLACE_BATTERIES: _("不足 1 小时，需更换电池"),
}


def ups_verdict(minutes: int) -> Verdict:
    """The backup power's runtime test: ≥ 2 h is as expected; below 1 h the batteries
    are replaced; in between it is repaired."""
    if minutes < 0:
        raise ValueError("a runtime is not negative")
    if minutes < UPS_REPLACE_BELOW_MINUTES:
        return Verdict.REPLACE_BATTERIES
    if minutes < UPS_EXPECTED_MINUTES:
        return Verdict.BELOW_EXPECTED
    return Verdict.OK


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def due_on(routine: Routine, last: date, interval_days: int | None = None) -> date:
    """The last day the next check is on time: ``last`` + its interval (a month is a
    calendar month, 31 January → 28/29 February). ``interval_days`` replaces the
    routine's days where it was shortened."""
    if routine.every is Every.DAYS:
        return last + timedelta(days=interval_days or routine.days)
    if interval_days is not None:
        return last + timedelta(days=interval_days)
    if routine.every is Every.MONTH:
        return _add_months(last, 1)
    return _add_months(last, 12)


class DueState(StrEnum):
    DONE = "done"
    #: never done, and not due yet (counted from the mine's joining)
    TO_DO = "to_do"
    DUE = "due"
    OVERDUE = "overdue"


DUE_LABELS: dict[str, str] = {
    DueState.DONE: _("已完成"),
    DueState.TO_DO: _("待开展"),
    DueState.DUE: _("即将到期"),
    DueState.OVERDUE: _("已超期"),
}
#: a check is shown as due this many days before its last day
DUE_SOON_DAYS = 3


def due_state(due: date, today: date, done: bool = True) -> DueState:
    """Overdue after its last day; due within the last days before; otherwise done, or
    to do where the check was never ``done``."""
    if today > due:
        return DueState.OVERDUE
    if today >= due - timedelta(days=DUE_SOON_DAYS):
        return DueState.DUE
    return DueState.DONE if done else DueState.TO_DO


# ---- calibration error and drift ------------------------------------------------------

#: permitted error of a belt scale by its accuracy class (GB/T 7721: class 0.5, 1, 2), %
CLASS_ACCURACY: dict[str, Decimal] = {
    "0.2": Decimal("0.2"),
    "0.5": Decimal("0.5"),
    "1": Decimal("1"),
    "2": Decimal("2"),
}
DEFAULT_CLASS = "0.5"


def beyond_accuracy(error_percent: Decimal, accuracy_class: str = DEFAULT_CLASS) -> bool:
    """A calibration whose error is beyond what the scale's class permits 计量异常."""
    return abs(error_percent) > CLASS_ACCURACY[accuracy_class]


def shortened_interval(
    errors: list[Decimal], days: int, accuracy_class: str = DEFAULT_CLASS
) -> int:
    """如两次调试的记录误差过大，应当缩短时间间隔: when the last two calibrations both erred
    beyond the class's accuracy (a drift that recurs), the interval is halved (at least
    one day); otherwise it stays."""
    if len(errors) >= 2 and all(beyond_accuracy(e, accuracy_class) for e in errors[-2:]):
        return max(1, days // 2)
    return days
