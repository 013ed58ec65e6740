"""Alarm rules 报警: every condition of the rulebook as a pure function.

Conditions defined by what arrives (overproduction, metering and transport
anomalies, events) are checked as records are ingested; conditions defined by
silence (communication interruption, no data while running, undeclared
shutdown, overdue calibration, overdue fault report) by timers. Each rule takes
the facts and the thresholds and says whether the alarm holds, and with what
value and threshold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from coalwatch.domain.acceptance import STATE_LABELS as ACCEPTANCE_STATE_LABELS
from coalwatch.domain.capacity import SERIOUS_MONTH_FACTOR, SUSTAINED_FACTOR, monthly_capacity
from coalwatch.domain.limits import MAX_TRIP_T, MAX_WINDOW_T
from coalwatch.domain.notices import STAGE_LABELS as DOCUMENT_STAGE_LABELS
from coalwatch.domain.people import STATE_LABELS as CERTIFICATE_STATE_LABELS
from coalwatch.domain.periods import Period
from coalwatch.domain.routines import ROUTINES
from coalwatch.domain.video import HEALTH_LABELS


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
    #: a stored figure or record that its signed source no longer proves
    DATA_TAMPER = "data_tamper"
    #: configuration a downstream center pushed up, refused by this (upstream) center
    FORWARDING_REFUSED = "forwarding_refused"
    #: a person on duty without a valid certificate 未持证上岗
    UNCERTIFIED_ON_DUTY = "uncertified_on_duty"
    #: fewer people signed on than the shift's minimum 值班人数不足
    UNDERSTAFFED_SHIFT = "understaffed_shift"
    #: a rostered person not signed on by the time to arrive for the handover
    LATE_SIGN_ON = "late_sign_on"
    #: a shift ended without a handover signed by both sides
    UNSIGNED_HANDOVER = "unsigned_handover"
    #: a routine check not done by its last day 定期检查超期
    ROUTINE_OVERDUE = "routine_overdue"
    #: production recorded at a mine whose monitoring system is not accepted 未验收生产
    UNACCEPTED_PRODUCTION = "unaccepted_production"
    #: the licence's annual inspection of the system past its due day 年检超期
    INSPECTION_OVERDUE = "inspection_overdue"
    #: a stop of 2 days or more declared, or its written report filed, after it began
    SHUTDOWN_DECLARED_LATE = "shutdown_declared_late"
    #: production again after a declared stop, its resumption not acknowledged 复产未确认
    RESUMPTION_UNACKNOWLEDGED = "resumption_unacknowledged"
    #: a rectification notice not acknowledged or not answered in time 整改通知逾期
    NOTICE_OVERDUE = "notice_overdue"
    #: an instruction not acknowledged or not answered in time 指令逾期未反馈
    INSTRUCTION_OVERDUE = "instruction_overdue"


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
    AlarmType.DATA_TAMPER: Severity.CRITICAL,
    AlarmType.FORWARDING_REFUSED: Severity.MAJOR,
    AlarmType.UNCERTIFIED_ON_DUTY: Severity.MAJOR,
    AlarmType.UNDERSTAFFED_SHIFT: Severity.MAJOR,
    AlarmType.LATE_SIGN_ON: Severity.WARNING,
    AlarmType.UNSIGNED_HANDOVER: Severity.WARNING,
    AlarmType.ROUTINE_OVERDUE: Severity.WARNING,
    AlarmType.UNACCEPTED_PRODUCTION: Severity.CRITICAL,
    AlarmType.INSPECTION_OVERDUE: Severity.MAJOR,
    AlarmType.SHUTDOWN_DECLARED_LATE: Severity.MAJOR,
    AlarmType.RESUMPTION_UNACKNOWLEDGED: Severity.MAJOR,
    AlarmType.NOTICE_OVERDUE: Severity.MAJOR,
    AlarmType.INSTRUCTION_OVERDUE: Severity.MAJOR,
}

#: how the pages and exports name a severity and a state (gettext message ids)
SEVERITY_LABELS: dict[str, str] = {
    Severity.CRITICAL: "严重",
    Severity.MAJOR: "重要",
    Severity.WARNING: "一般",
    Severity.INFO: "提示",
}
STATE_LABELS: dict[str, str] = {
    "active": "未确认",
    "acknowledged": "已确认",
    "handled": "已处理",
    "closed": "已关闭",
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
    AlarmType.DATA_TAMPER: "数据篡改",
    AlarmType.FORWARDING_REFUSED: "越权上报被拒",
    AlarmType.UNCERTIFIED_ON_DUTY: "未持证上岗",
    AlarmType.UNDERSTAFFED_SHIFT: "值班人数不足",
    AlarmType.LATE_SIGN_ON: "未按时到岗",
    AlarmType.UNSIGNED_HANDOVER: "交接班未签字",
    AlarmType.ROUTINE_OVERDUE: "定期检查超期",
    AlarmType.UNACCEPTED_PRODUCTION: "未验收生产",
    AlarmType.INSPECTION_OVERDUE: "年检超期",
    AlarmType.SHUTDOWN_DECLARED_LATE: "停产报备迟报",
    AlarmType.RESUMPTION_UNACKNOWLEDGED: "复产未确认",
    AlarmType.NOTICE_OVERDUE: "整改通知逾期",
    AlarmType.INSTRUCTION_OVERDUE: "指令逾期未反馈",
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
    "invalid_data": (AlarmType.INVALID_DATA, None),
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


#: the legal limits 法定时限, each a deadline or window of the rulebook (domain.md) that
#: is a ceiling: a supervising unit may shorten it for its subtree, nobody may lengthen
#: it, and a mine does not set it at all. The others (a trip's or a belt window's
#: minimum, the tolerated skew of a station's clock, which the deployment sets) stay
#: settings of the mine's administrator.
LEGAL_LIMITS: dict[str, int] = {
    name: getattr(Thresholds(), name)
    for name in (
        "no_data_minutes",
        "comm_loss_minutes",
        "undeclared_shutdown_days",
        "calibration_days",
        "fault_report_warning_minutes",
        "fault_report_violation_minutes",
        "fault_escalation_hours",
    )
}
#: the shortest a legal limit may be made: a deadline of zero is none
MIN_LEGAL_LIMIT = 1

#: how the pages name each threshold (gettext message ids), with its unit
THRESHOLD_LABELS: dict[str, str] = {
    "min_trip_kg": "最小输煤量 (kg)",
    "window_min": "皮带监测窗口 (分钟)",
    "window_min_kg": "窗口最小输煤量 (kg)",
    "no_data_minutes": "运行无数据 (分钟)",
    "comm_loss_minutes": "通信中断 (分钟)",
    "clock_skew_seconds": "时钟偏差 (秒)",
    "undeclared_shutdown_days": "停产未报备 (天)",
    "calibration_days": "调校周期 (天)",
    "fault_report_warning_minutes": "故障上报预警 (分钟)",
    "fault_report_violation_minutes": "故障上报违规 (分钟)",
    "fault_escalation_hours": "故障升级 (小时)",
}

#: what an alarm's detail says, by its code: gettext message ids (Chinese) whose
#: ``%(name)s`` are the alarm's params; the pages and exports translate them
DETAILS: dict[str, str] = {
    "excess": "超产产量 %(excess)s t",
    "reset": "累计量由 %(old)s t 变为 %(new)s t",
    "rejected": "被拒收的记录：%(records)s",
    "dropped_value": "%(field)s 超出范围（%(value)s），已舍弃，累计量照常计入",
    "missing": "缺失序号 %(seqs)s",
    "counts_while_stopped": "计量仪有产量输出但输煤设备停止",
    "suspect_increment": (
        "可疑增量未计入产量（%(kind)s，%(why)s）：累计量由 %(old)s t 变为 %(new)s t，"
        "增量 %(increment)s t，%(seconds)s 秒内最多 %(limit)s t"
    ),
    "light_trip": "输煤量小于规定的最小输煤量",
    "light_window": "皮带运行 %(minutes)s 分钟，输煤量小于规定的最小输煤量",
    "during_shutdown": "停产报备 %(start)s – %(end)s：%(reason)s",
    "month_plan": "月产量大于产量计划的 110%%",
    "year_capacity": "年产量大于年生产能力",
    "sustained_days": "%(first)s 和 %(second)s 日产量均大于日生产能力的 1.1 倍",
    "sustained_months": "%(first)s 和 %(second)s 月产量均大于月生产能力的 1.1 倍",
    "silent": "主站 %(station)s 自 %(since)s 起无数据",
    "no_sample": "输煤设备运行但无称重数据",
    "calibrated": "上次调校 %(last)s",
    "no_production": "自 %(since)s 起无产量，未报备停产",
    "late_report": "故障 %(fault)s 未按时上报（%(lateness)s）",
    "camera": "%(camera)s：%(health)s",
    "notification_failed": "通道 %(channel)s（%(kind)s）发送失败",
    "tampered": "转发批次的签名无效",
    "figures_disagree": "%(count)s 处存储的数据与主站签名的来源不一致（coalwatch verify 列出全部）",
    "audit_broken": "审计日志第 %(entry)s 条起被删除或改写",
    "forwarding_refused": "下级中心 %(center)s 上报的配置变更 %(op)s 由上级单位决定，已拒绝",
    "downstream_audit": "下级中心 %(center)s 的审计日志被删除或改写",
    "uncertified": "%(person)s 在岗，上岗资格证%(state)s",
    "understaffed": "%(unit)s %(day)s %(shift)s：到岗 %(signed)s 人，至少 %(minimum)s 人",
    "late_sign_on": "%(person)s 未在 %(due)s 前到岗（%(day)s %(shift)s）",
    "unsigned_handover": "%(day)s %(shift)s 交接班未由双方签字",
    "routine_overdue": "%(routine)s 应于 %(due)s 前完成（上次 %(last)s）",
    "shutdown_late": "%(start)s 起的停产 %(what)s（报备于 %(declared)s）",
    "resumption_unacknowledged": "%(end)s 停产结束后已有产量，复产未经监管单位确认",
    "calibration_error": "调校误差 %(error)s%%，超过 %(accuracy)s 级允许误差",
    "unaccepted": "监控系统%(acceptance)s（自 %(since)s 起），记录到产量 %(produced)s t",
    "inspection_due": "年检应于 %(due)s 前完成",
    "document_overdue": "%(number)s %(stage)s（期限 %(due)s）",
    "config_mismatch": "主站 %(station)s 运行的配置 %(running)s 不是中心下发的第 %(version)s 版 "
    "%(issued)s",
}

#: what of a shutdown declaration came late
SHUTDOWN_LATE_LABELS: dict[str, str] = {
    "declaration": "报备晚于停产开始",
    "report": "书面报告未在停产开始前提交",
}

#: how late a fault report is, as the detail says it
LATENESS_LABELS: dict[str, str] = {
    "warning": "超过 1 小时",
    "violation": "超过 2 小时",
}

#: why an increment is suspect, and what kind of increment it would be
SUSPECT_REASON_LABELS: dict[str, str] = {
    "max_flow": "超过计量点最大流量",
    "flow_rate": "与仪表瞬时流量不符",
}
INCREMENT_KIND_LABELS: dict[str, str] = {
    "normal": "正常累计",
    "rollover": "溢出回零",
    "reset": "清零",
}
#: what became of a suspect increment
SUSPECT_STATE_LABELS: dict[str, str] = {
    "held": "挂起待确认",
    "confirmed": "已确认计入",
    "rejected": "已驳回",
}

#: params holding a code, with the labels the code is shown by
_CODED: dict[str, Mapping[str, str]] = {
    "lateness": LATENESS_LABELS,
    "why": SUSPECT_REASON_LABELS,
    "kind": INCREMENT_KIND_LABELS,
    "health": {h.value: label for h, label in HEALTH_LABELS.items()},
    "state": CERTIFICATE_STATE_LABELS,
    "routine": {r.code: r.label for r in ROUTINES},
    "acceptance": ACCEPTANCE_STATE_LABELS,
    "what": SHUTDOWN_LATE_LABELS,
    "stage": DOCUMENT_STAGE_LABELS,
}

Gettext = Callable[[str], str]


def _same(message: str) -> str:
    return message


def local_minute(at: datetime, tz: tzinfo) -> str:
    """An instant as an alarm's detail, value or threshold says it: the minute on the
    mine's clock ("2026-03-15 12:00"), as the duty operator reads it."""
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def detail_params(code: str, **values: object) -> str:
    """The JSON an alarm stores for its detail: the code and its values, as text."""
    if code not in DETAILS:
        raise ValueError(f"unknown alarm detail {code!r}")
    return json.dumps({"code": code, **{k: str(v) for k, v in values.items()}}, ensure_ascii=False)


Params = str | Mapping[str, str] | None


def _values(params: Params) -> dict[str, str]:
    if not params:
        return {}
    try:
        values = json.loads(params) if isinstance(params, str) else dict(params)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def params_of(stored: str | None) -> dict[str, str] | None:
    """Stored params as the API shows them (an object); None when there are none."""
    return _values(stored) or None if stored else None


def compose_detail(params: Params, gettext: Gettext = _same) -> str | None:
    """An alarm's detail in one language (``gettext`` of the reader's; Chinese without):
    None when the alarm has no structured detail (then its stored text is shown)."""
    values = _values(params)
    try:
        message = DETAILS[values.pop("code")]
    except KeyError:
        return None
    text = values.pop("text", None)
    for name, labels in _CODED.items():
        if values.get(name) in labels:
            values[name] = gettext(labels[values[name]])
    try:
        composed = gettext(message) % values
    except (KeyError, TypeError, ValueError):  # params of another version: shown as stored
        return None
    return f"{composed} — {text}" if text else composed


def compose_phenomenon(type_: str, params: Params, gettext: Gettext = _same) -> str | None:
    """A fault's phenomenon as the system saw it (its alarm's label and detail) in one
    language; None when the fault has no structured phenomenon (entered by hand)."""
    if params is None:
        return None
    try:
        label = gettext(LABELS[AlarmType(type_)])
    except ValueError:
        return None
    detail = compose_detail(params, gettext) or _values(params).get("text")
    return f"{label} {detail}" if detail else label


#: units an alarm's value or threshold is written with ("45 min"), as the pages say them
VALUE_UNITS: dict[str, str] = {"min": "分钟", "d": "天", "attempts": "次"}
_FIGURE = re.compile(r"^(-?\d+(?:\.\d+)?)(?: (min|d|attempts))?$")
#: alarms whose value and threshold are tonnes
TONNE_TYPES = frozenset(
    {
        *OVERPRODUCTION.values(),
        AlarmType.SERIOUS_OVERPRODUCTION,
        AlarmType.TRANSPORT_ANOMALY,
        AlarmType.METERING_ANOMALY,
        AlarmType.PRODUCTION_DURING_SHUTDOWN,
        AlarmType.UNACCEPTED_PRODUCTION,
    }
)


def split_figure(text: str | None) -> tuple[Decimal, str | None] | None:
    """An alarm's value or threshold as a number and its unit code ("45 min" →
    (45, "min")); None when it is not one figure (two days' tonnes, a camera state)."""
    found = _FIGURE.match(text or "")
    return None if found is None else (Decimal(found[1]), found[2])


def shown_figure(text: str | None, gettext: Gettext = _same) -> str | None:
    """An alarm's value or threshold in one language: its unit or its code translated, a
    number in groups of thousands as every figure of the pages ("60,853.838")."""
    if text is None:
        return None
    if text in _CODED["health"]:
        return gettext(_CODED["health"][text])
    found = _FIGURE.match(text)
    if found is None:
        return text
    number = f"{Decimal(found[1]):,}"
    if found[2] is None:
        return number
    return f"{number} {gettext(VALUE_UNITS[found[2]])}"


def figure_unit(type_: str, text: str | None, gettext: Gettext = _same) -> str | None:
    """The unit of an alarm's value in one language (tonnes for production alarms)."""
    figure = split_figure(text)
    if figure is None:
        return None
    if figure[1] is not None:
        return gettext(VALUE_UNITS[figure[1]])
    return "t" if type_ in TONNE_TYPES else None


def phenomenon_params(alarm_params: str | None, alarm_detail: str | None) -> str:
    """What a fault opened by an alarm stores: the alarm's structured detail, or its text
    as it came (a station's own words about an event)."""
    if alarm_params:
        return alarm_params
    return json.dumps({"text": alarm_detail} if alarm_detail else {}, ensure_ascii=False)


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


def metering_anomaly(increment_kg: int, stopped: bool) -> bool:
    """计量异常: the scale reports production carried over an interval in which its
    conveyor is known to have been stopped throughout (``stopped_throughout``)."""
    return increment_kg > 0 and stopped


def stopped_throughout(
    states: Sequence[tuple[datetime, bool]], start: datetime, end: datetime
) -> bool:
    """Whether a conveyor was known to be stopped over all of (``start``, ``end``]: the
    last state at or before ``start`` says stopped, and none up to ``end`` says running.
    ``states``: the conveyor's records (time, running) in time order, from the last one
    at or before ``start``. A conveyor that started or stopped within the interval (also
    at its very end) was not: the tonnes may have been carried while it ran."""
    known: bool | None = None
    for at, running in states:
        if at <= start:
            known = running
        elif at > end:
            break
        elif running:
            return False
    return known is False


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


def needs_written_report(start: datetime, end: datetime, days: int) -> bool:
    """停产报备: a stop of ``days`` (2) days or more (含2天) needs a written report."""
    return end - start >= timedelta(days=days)


def shutdown_declared_late(start: datetime, filed_at: datetime) -> bool:
    """A declaration (or its written report) filed, by the server's clock, after the stop
    began: accepted, and late."""
    return filed_at > start


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
