"""The document archive 档案, as rules: which documents a mine and a center must keep,
who approves them, and how long a replaced one is kept.

From the implementing rules 第十三条 (系统示意图、网络拓扑结构; 应用系统操作指南; the six
management rules), the mine's technical documents 技术资料 (设备布置图 … 报技术负责人审批;
图纸、技术资料应保存二年以上), calibration 调校 and acceptance 验收.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


def _(message: str) -> str:
    """Marks a label for the message catalog; it is translated where it is shown."""
    return message


#: a replaced document is kept at least this many years after its replacement
RETENTION_YEARS = 2


class Owner(StrEnum):
    """Whose archive: a mine's or a monitoring center's (an org)."""

    MINE = "mine"
    CENTER = "center"


@dataclass(frozen=True, slots=True)
class DocumentKind:
    code: str
    label: str
    #: the archives that must hold it
    required_for: frozenset[Owner]
    #: the role that must approve it (a role code), None: no approval asked
    approver: str | None = None
    #: several current documents of the kind (certificates, records); else a new one
    #: replaces the current one
    many: bool = False
    #: the document carries an expiry date (a certificate)
    expires: bool = False


_BOTH = frozenset({Owner.MINE, Owner.CENTER})
_MINE = frozenset({Owner.MINE})
_NONE: frozenset[Owner] = frozenset()

KINDS: tuple[DocumentKind, ...] = (
    DocumentKind("system_diagram", _("系统示意图"), _BOTH),
    DocumentKind("network_topology", _("网络拓扑结构图"), _BOTH),
    # 绘制设备布置图 … 并报技术负责人审批: the chief engineer 总工程师
    DocumentKind("layout_drawing", _("设备布置图"), _BOTH, approver="chief_engineer"),
    DocumentKind("operating_guide", _("应用系统操作指南"), _BOTH),
    DocumentKind("maintenance_rules", _("设备维护管理制度"), _BOTH),
    DocumentKind("reporting_rules", _("产量监测数据上报管理制度"), _BOTH),
    DocumentKind("archiving_rules", _("产量数据定期归档、备份管理制度"), _BOTH),
    DocumentKind("coefficient_rules", _("毛煤与原煤折算系数管理办法"), _MINE),
    DocumentKind("duty_rules", _("值班岗位责任制及工作流程"), _BOTH),
    DocumentKind("inspection_rules", _("定期校验及查验制度"), _MINE),
    DocumentKind(
        "calibration_certificate", _("计量器检定/校准证书"), _MINE, many=True, expires=True
    ),
    DocumentKind("acceptance_record", _("系统验收记录"), _MINE, many=True),
    # kept in the archive, asked for by a declaration rather than by the checklist
    DocumentKind("shutdown_report", _("停产书面报告"), _NONE, many=True),
    DocumentKind("other", _("其他技术资料"), _NONE, many=True),
)
BY_CODE = {k.code: k for k in KINDS}

#: how the checklist says a kind stands
STATE_LABELS: dict[str, str] = {
    "missing": _("缺失"),
    "unapproved": _("待审批"),
    "expired": _("已过期"),
    "ok": _("齐全"),
}


def required(owner: Owner) -> tuple[DocumentKind, ...]:
    return tuple(k for k in KINDS if owner in k.required_for)


def kept_until(replaced_on: date) -> date:
    """The first day a replaced document may be deleted: two years after its
    replacement (29 February is kept until 1 March)."""
    year = replaced_on.year + RETENTION_YEARS
    try:
        return replaced_on.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def may_delete(replaced_at: datetime | None, today: date) -> bool:
    """A current document is never deleted (it is replaced); a replaced one from two
    years after its replacement on."""
    return replaced_at is not None and today >= kept_until(replaced_at.date())


def state(present: bool, approved: bool, approver: str | None, expired: bool) -> str:
    """A kind's line of the checklist: missing, waiting for approval, expired or ok."""
    if not present:
        return "missing"
    if approver is not None and not approved:
        return "unapproved"
    if expired:
        return "expired"
    return "ok"
