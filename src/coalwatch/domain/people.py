"""People of the monitoring system, as rules: certificates 上岗资格证书, staffing per shift
值班人数, sign-on for the handover 提前到岗.

From the seed: staff work only with a valid certificate 持证上岗 (province regulation
第十条; 工作人员未持证上岗 is the first offence of its 第十八条); a certificate is valid for
2 years and is renewed after retraining 延期 (implementing rules 第七条); supervising
centers keep at least 3 people on every shift 每班至少3人 (province regulation 第九条),
mines at least 2 每班至少2人 (implementing rules 第十二条); the incoming staff arrive
10 minutes before the shift 提前十分钟到达岗位 (the handover rules; a unit may ask 30,
提前半个小时) and hand over face to face, both signing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


def _(message: str) -> str:
    """Marks a label for the message catalog; it is translated where it is shown."""
    return message


#: a certificate's validity, in years from its issue (or renewal) 有效期为2年
CERTIFICATE_YEARS = 2
#: expiry is warned of this many days before the last valid day
CERTIFICATE_WARNING_DAYS = 30
#: people on every shift, at least: supervising centers 每班至少3人, mines 每班至少2人
MIN_STAFF_SUPERVISING = 3
MIN_STAFF_MINE = 2
#: minutes before its start the incoming staff sign on, by default 提前十分钟
DEFAULT_EARLY_MINUTES = 10
#: what a unit may ask instead (its own rules say half an hour 提前半个小时)
EARLY_MINUTES_CHOICES = (10, 15, 20, 30)
#: after the shift's start, how long a missing sign-on is waited for before it is alarmed
SIGN_ON_GRACE = timedelta(minutes=5)

#: positions 岗位 a person holds
POSITIONS: dict[str, str] = {
    "operator": _("值机员"),
    "maintainer": _("维护员"),
    "calibrator": _("校验员"),
    "dispatcher": _("调度"),
    "duty_mine_manager": _("值班矿长"),
    "center_staff": _("监控中心值班员"),
    "leader": _("单位负责人"),
}
#: kinds of certificate
CERTIFICATE_KINDS: dict[str, str] = {
    "monitoring": _("产量监控系统上岗资格证"),
    "calibration": _("计量校验资格证"),
}

#: the acts that need a valid certificate, and how a refusal names them
ACTS: dict[str, str] = {
    "duty": _("值班"),
    "sign_report": _("以值机员身份审签报表"),
    "calibration": _("登记调校"),
    "maintenance": _("登记检修与维护"),
}


class CertificateState(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    MISSING = "missing"


STATE_LABELS: dict[str, str] = {
    CertificateState.VALID: _("有效"),
    CertificateState.EXPIRING: _("即将到期"),
    CertificateState.EXPIRED: _("已过期"),
    CertificateState.MISSING: _("无证"),
}


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without it: 1 March
        return day.replace(year=day.year + years, month=3, day=1)


def valid_through(start: date) -> date:
    """The last valid day of a validity beginning on ``start``: two years less a day
    (issued 2024-12-10 → valid through 2026-12-09)."""
    return _add_years(start, CERTIFICATE_YEARS) - timedelta(days=1)


def renewed_through(previous_through: date, renewed_on: date) -> date:
    """The new last valid day after a renewal 延期 on ``renewed_on``: two more years from
    the end of the old validity, or from the renewal day when it came after the expiry."""
    start = max(previous_through + timedelta(days=1), renewed_on)
    return valid_through(start)


def warning_from(through: date) -> date:
    """The first day the expiry is warned of: 30 days before the last valid day."""
    return through - timedelta(days=CERTIFICATE_WARNING_DAYS)


def state_on(through: date | None, today: date) -> CertificateState:
    if through is None:
        return CertificateState.MISSING
    if today > through:
        return CertificateState.EXPIRED
    if today >= warning_from(through):
        return CertificateState.EXPIRING
    return CertificateState.VALID


def best_through(validities: Sequence[date]) -> date | None:
    """Of a person's certificates (each one's last valid day), the one lasting longest."""
    return max(validities, default=None)


def may_act(state: CertificateState) -> bool:
    """A person may work with a valid certificate (an expiring one is still valid)."""
    return state in (CertificateState.VALID, CertificateState.EXPIRING)


def mask_id_number(number: str) -> str:
    """An ID number as it is stored and shown 脱敏: the first 3 and last 4 characters
    kept, the rest starred (110101199003074518 → 110***********4518)."""
    text = number.strip().upper()
    if len(text) < 8:
        raise ValueError("an ID number has at least 8 characters")
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


# ---- staffing ----------------------------------------------------------------------


def staffing_floor(supervising: bool) -> int:
    """The regulation's minimum per shift: 3 at a supervising center, 2 at a mine."""
    return MIN_STAFF_SUPERVISING if supervising else MIN_STAFF_MINE


def tightened(floor: int, asked: int | None) -> int:
    """A unit's own minimum: the regulation's floor, or more; never less."""
    if asked is None:
        return floor
    if asked < floor:
        raise ValueError(f"the minimum staff per shift may be raised, not lowered below {floor}")
    return asked


@dataclass(frozen=True, slots=True)
class Staffing:
    """A shift's staffing as it stands: who signed on in time, who is rostered."""

    rostered: int
    signed_on: int
    minimum: int

    @property
    def short(self) -> bool:
        return self.signed_on < self.minimum


def staffing_due(shift_start: datetime) -> datetime:
    """When a shift's staffing is judged: its start plus the grace for a late arrival."""
    return shift_start + SIGN_ON_GRACE


def sign_on_window(shift_start: datetime, early_minutes: int) -> datetime:
    """When the incoming staff are due at their post: ``early_minutes`` before the start."""
    return shift_start - timedelta(minutes=early_minutes)


def late_sign_on(shift_start: datetime, early_minutes: int, signed_on: datetime) -> bool:
    """Signed on after the time to arrive for the handover 提前到岗."""
    return signed_on > sign_on_window(shift_start, early_minutes)


def check_early_minutes(minutes: int) -> None:
    if minutes < DEFAULT_EARLY_MINUTES:
        raise ValueError(
            f"the staff arrive at least {DEFAULT_EARLY_MINUTES} minutes before the shift"
        )
    if minutes > 60:
        raise ValueError("arriving more than 60 minutes before the shift is not a handover rule")
