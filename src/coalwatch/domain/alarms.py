"""Alarm rules 报警: every condition of the rulebook as a pure function.

Conditions defined by what arrives (overproduction, metering and transport
anomalies, events) are checked as records are ingested; conditions defined by
silence (communication interruption, no data while running, undeclared
shutdown, overdue calibration, overdue fault report) by timers. Each rule takes
the facts and the thresholds and says whether the alarm holds, and with what
value and threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from coalwatch.domain.capacity import SERIOUS_MONTH_FACTOR, SUSTAINED_FACTOR, monthly_capacity
from coalwatch.domain.limits import MAX_TRIP_T, MAX_WINDOW_T
from coalwatch.domain.periods import Period


class AlarmType(StrEnum):
    OVERPRODUCTION_HOUR = "overproduction_hour"
    OVERPRODUCTION_DAY = "overproduction_day"
    OVERPRODUCTION_MONTH = "overproduction_month"
    OVERPRODUCTION_YEAR = "overproduction_year"
    SERIOUS_OVERPRODUCTION = "serious_overproduction"
    SUSTAINED_OVERPRODUCTION_DAY = "sustained_overproduction_day"
    SUSTAINED_OVERPRODUCTION_MONTH = "sustained_overproduction_month"
    TRANSPORT_ANOMALY = "transport_anomaly"
    METERING_ANOMALY = "metering_anomaly"
    NO_DATA_WHILE_RUNNING = "no_data_while_running"
    COMM_INTERRUPTION = "comm_interruption"
    ENCLOSURE_OPEN = "enclosure_open"
    PARAMETER_CHANGE = "parameter_change"
    POWER_OFF = "power_off"
    DEVICE_FAULT = "device_fault"
    CAMERA_FAULT = "camera_fault"
    PRODUCTION_DURING_SHUTDOWN = "production_during_shutdown"
    UNDECLARED_SHUTDOWN = "undeclared_shutdown"
    CALIBRATION_OVERDUE = "calibration_overdue"
    FAULT_REPORT_OVERDUE = "fault_report_overdue"
    INVALID_DATA = "invalid_data"
    SEQUENCE_GAP = "sequence_gap"
    CLOCK_SKEW = "clock_skew"
    NOTIFICATION_FAILED = "notification_failed"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    MAJOR = "major"
    CRITICAL = "critical"


SEVERITY: dict[AlarmType, Severity] = {
    AlarmType.OVERPRODUCTION_HOUR: Severity.WARNING,
    AlarmType.OVERPRODUCTION_DAY: Severity.MAJOR,
    AlarmType.OVERPRODUCTION_MONTH: Severity.MAJOR,
    AlarmType.OVERPRODUCTION_YEAR: Severity.CRITICAL,
    AlarmType.SERIOUS_OVERPRODUCTION: Severity.CRITICAL,
    AlarmType.SUSTAINED_OVERPRODUCTION_DAY: Severity.CRITICAL,
    AlarmType.SUSTAINED_OVERPRODUCTION_MONTH: Severity.CRITICAL,
    AlarmType.TRANSPORT_ANOMALY: Severity.MAJOR,
    AlarmType.METERING_ANOMALY: Severity.MAJOR,
    AlarmType.NO_DATA_WHILE_RUNNING: Severity.MAJOR,
    AlarmType.COMM_INTERRUPTION: Severity.MAJOR,
    AlarmType.ENCLOSURE_OPEN: Severity.MAJOR,
    AlarmType.PARAMETER_CHANGE: Severity.MAJOR,
    AlarmType.POWER_OFF: Severity.MAJOR,
    AlarmType.DEVICE_FAULT: Severity.MAJOR,
    AlarmType.CAMERA_FAULT: Severity.WARNING,
    AlarmType.PRODUCTION_DURING_SHUTDOWN: Severity.CRITICAL,
    AlarmType.UNDECLARED_SHUTDOWN: Severity.MAJOR,
    AlarmType.CALIBRATION_OVERDUE: Severity.WARNING,
    AlarmType.FAULT_REPORT_OVERDUE: Severity.MAJOR,
    AlarmType.INVALID_DATA: Severity.WARNING,
    AlarmType.SEQUENCE_GAP: Severity.WARNING,
    AlarmType.CLOCK_SKEW: Severity.WARNING,
    AlarmType.NOTIFICATION_FAILED: Severity.MAJOR,
}

#: Chinese labels as the regulation names them
LABELS: dict[AlarmType, str] = {
    AlarmType.OVERPRODUCTION_HOUR: "时超产",
    AlarmType.OVERPRODUCTION_DAY: "日超产",
    AlarmType.OVERPRODUCTION_MONTH: "月超产",
    AlarmType.OVERPRODUCTION_YEAR: "年超产",
    AlarmType.SERIOUS_OVERPRODUCTION: "严重超产",
    AlarmType.SUSTAINED_OVERPRODUCTION_DAY: "连续日超产",
    AlarmType.SUSTAINED_OVERPRODUCTION_MONTH: "连续月超产",
    AlarmType.TRANSPORT_ANOMALY: "输煤异常",
    AlarmType.METERING_ANOMALY: "计量异常",
    AlarmType.NO_DATA_WHILE_RUNNING: "运行无数据",
    AlarmType.COMM_INTERRUPTION: "通信中断",
    AlarmType.ENCLOSURE_OPEN: "外壳开启",
    AlarmType.PARAMETER_CHANGE: "调整参数",
    AlarmType.POWER_OFF: "停电",
    AlarmType.DEVICE_FAULT: "设备故障",
    AlarmType.CAMERA_FAULT: "摄像机故障",
    AlarmType.PRODUCTION_DURING_SHUTDOWN: "停产期间生产",
    AlarmType.UNDECLARED_SHUTDOWN: "停产未报备",
    AlarmType.CALIBRATION_OVERDUE: "调校超期",
    AlarmType.FAULT_REPORT_OVERDUE: "故障上报超时",
    AlarmType.INVALID_DATA: "数据无效",
    AlarmType.SEQUENCE_GAP: "数据缺失",
    AlarmType.CLOCK_SKEW: "时钟偏差",
    AlarmType.NOTIFICATION_FAILED: "通知发送失败",
}

OVERPRODUCTION = {
    Period.HOUR: AlarmType.OVERPRODUCTION_HOUR,
    Period.DAY: AlarmType.OVERPRODUCTION_DAY,
    Period.MONTH: AlarmType.OVERPRODUCTION_MONTH,
    Period.YEAR: AlarmType.OVERPRODUCTION_YEAR,
}

#: system abnormalities that open a fault record 故障记录 by themselves
FAULT_OPENING = frozenset(
    {
        AlarmType.COMM_INTERRUPTION,
        AlarmType.POWER_OFF,
        AlarmType.DEVICE_FAULT,
        AlarmType.NO_DATA_WHILE_RUNNING,
        AlarmType.CAMERA_FAULT,
    }
)

#: event → (alarm it raises, event that ends it)
EVENT_ALARMS: dict[str, tuple[AlarmType, str | None]] = {
    "enclosure_open": (AlarmType.ENCLOSURE_OPEN, "enclosure_closed"),
    "parameter_change": (AlarmType.PARAMETER_CHANGE, None),
    "power_off": (AlarmType.POWER_OFF, "power_on"),
    "device_fault": (AlarmType.DEVICE_FAULT, "device_ok"),
    "camera_fault": (AlarmType.CAMERA_FAULT, "camera_ok"),
}
ENDING_EVENTS: dict[str, AlarmType] = {
    end: alarm for alarm, end in EVENT_ALARMS.values() if end is not None
}
#: opening an instrument or changing its parameters is allowed inside a permit
PERMITTED = frozenset({AlarmType.ENCLOSURE_OPEN, AlarmType.PARAMETER_CHANGE})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Settings of the rules, with the defaults of the rulebook (per mine or point)."""

    #: 输煤异常: a trip lighter than this (kg); None: not checked
    min_trip_kg: int | None = None
    #: 输煤异常: a belt running a whole window of this many minutes ...
    window_min: int | None = None
    #: ... must carry at least this (kg)
    window_min_kg: int | None = None
    no_data_minutes: int = 10
    comm_loss_minutes: int = 3
    clock_skew_seconds: int = 60
    undeclared_shutdown_days: int = 2
    calibration_days: int = 15
    fault_report_warning_minutes: int = 60
    fault_report_violation_minutes: int = 120
    fault_escalation_hours: int = 48


THRESHOLD_NAMES = tuple(Thresholds.__dataclass_fields__)
_YEAR_MINUTES = 366 * 24 * 60
#: the largest value each threshold takes: a year for spans of time (the rules add
#: them to instants, which must stay in 1970–2199), a day for the clock skew, the
#: heaviest trip for a trip's minimum, a day of a mine at the hourly limit for a window
THRESHOLD_LIMITS: dict[str, int] = {
    "min_trip_kg": MAX_TRIP_T * 1000,
    "window_min": 1440,
    "window_min_kg": MAX_WINDOW_T * 1000,
    "no_data_minutes": _YEAR_MINUTES,
    "comm_loss_minutes": _YEAR_MINUTES,
    "clock_skew_seconds": 86_400,
    "undeclared_shutdown_days": 366,
    "calibration_days": 366,
    "fault_report_warning_minutes": _YEAR_MINUTES,
    "fault_report_violation_minutes": _YEAR_MINUTES,
    "fault_escalation_hours": 366 * 24,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """An alarm condition that holds, with the value and threshold that raised it."""

    type: AlarmType
    value: str
    threshold: str
    detail: str = ""


def overproduction(period: Period, raw_t: Fraction, capacity_t: Fraction | None) -> Fraction | None:
    """超产: raw production of a period above its capacity; the excess 超产产量."""
    if capacity_t is None or raw_t <= capacity_t:
        return None
    return raw_t - capacity_t


def serious_by_year(year_raw_t: Fraction, annual_t: Fraction) -> bool:
    """严重超产 by the annual rule: the year's raw production above A."""
    return year_raw_t > annual_t


def serious_by_month(
    month_raw_t: Fraction, annual_t: Fraction, month_plan_t: Fraction | None
) -> bool:
    """严重超产 by the monthly rule: above 110 % of the month's plan (M where none)."""
    base = month_plan_t if month_plan_t else monthly_capacity(annual_t)
    return month_raw_t > SERIOUS_MONTH_FACTOR * base


def sustained(first_raw_t: Fraction, second_raw_t: Fraction, capacity_t: Fraction) -> bool:
    """Two consecutive periods each above 1.1 × their capacity (D or M)."""
    limit = SUSTAINED_FACTOR * capacity_t
    return first_raw_t > limit and second_raw_t > limit


def light_trip(net_kg: int, min_trip_kg: int | None) -> bool:
    """输煤异常: a trip that carried less than the point's minimum."""
    return min_trip_kg is not None and net_kg < min_trip_kg


def light_belt_window(ran_whole_window: bool, carried_kg: int, window_min_kg: int | None) -> bool:
    """输煤异常: a belt that ran a whole window and carried less than its minimum."""
    return ran_whole_window and window_min_kg is not None and carried_kg < window_min_kg


def metering_anomaly(increment_kg: int, conveyor_running: bool | None) -> bool:
    """计量异常: the scale reports production while its conveyor is known to be stopped."""
    return increment_kg > 0 and conveyor_running is False


def silent_for(last: datetime | None, since: datetime, now: datetime, minutes: int) -> bool:
    """Nothing since ``last`` (or since ``since`` when nothing ever came) for the minutes."""
    reference = last or since
    return now - reference > timedelta(minutes=minutes)


def undeclared_shutdown(
    last_production: datetime | None,
    since: datetime,
    now: datetime,
    days: int,
    declared: bool,
) -> bool:
    """停产未报备: no production for ``days`` or more, and no shutdown declared."""
    return not declared and now - (last_production or since) >= timedelta(days=days)


def calibration_overdue(last_calibrated: date, today: date, days: int) -> bool:
    """调校超期: a belt scale not calibrated for more than ``days`` days."""
    return (today - last_calibrated).days > days


class ReportLateness(StrEnum):
    WARNING = "warning"  # past 1 h: the company rule
    VIOLATION = "violation"  # past 2 h: the provincial regulation


def fault_report_lateness(
    occurred_at: datetime,
    reported_at: datetime | None,
    now: datetime,
    thresholds: Thresholds = Thresholds(),
) -> ReportLateness | None:
    """How late a fault's report upward is (judged at ``now``, or when it was reported)."""
    moment = reported_at or now
    late = moment - occurred_at
    if late > timedelta(minutes=thresholds.fault_report_violation_minutes):
        return ReportLateness.VIOLATION
    if late > timedelta(minutes=thresholds.fault_report_warning_minutes):
        return ReportLateness.WARNING
    return None


def needs_escalation(
    occurred_at: datetime, recovered_at: datetime | None, now: datetime, hours: int
) -> bool:
    """A fault not repaired within 48 h asks the level above for technical help."""
    return recovered_at is None and now - occurred_at > timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Window:
    """An approved maintenance permit or a shutdown declaration: [start, end)."""

    start: datetime
    end: datetime
    point: str | None = None  # a permit names its point; None covers the whole mine

    def covers(self, ts: datetime, point: str | None = None) -> bool:
        if not self.start <= ts < self.end:
            return False
        return self.point is None or point is None or self.point == point


def covered(windows: Sequence[Window], ts: datetime, point: str | None = None) -> bool:
    return any(w.covers(ts, point) for w in windows)
