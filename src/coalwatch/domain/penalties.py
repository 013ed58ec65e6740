"""Violations and penalties 违法行为与处罚 of the province regulation's penalty article.

《山西省煤炭产量监控系统管理规定》第十八条 (repeated as 第二十八条 of the implementing
rules): for each of five offences the coal administration at county level or above fines
the enterprise 30 000–50 000 yuan; where the case is serious 情节严重 it may also order
a stop for rectification 停产整顿 or hold the production licence 暂扣煤炭生产许可证, and
fines the enterprise's principal 主要负责人 5 000–10 000 yuan and the person directly
responsible 直接责任人 3 000–5 000 yuan. The ways in which people make the system
inoperable are listed by 第二十九条 of the implementing rules.

The list is closed: a record names one of these offences, and its fines are checked
against the article's ranges here (whole or fractional yuan, exact ``Decimal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

REGULATION = "《山西省煤炭产量监控系统管理规定》"
ARTICLE = "第十八条"
MANNER_ARTICLE = "《山西省煤炭产量监控系统管理实施细则》第二十九条"


@dataclass(frozen=True, slots=True)
class FineRange:
    """A fine the article allows, both ends included (yuan)."""

    low: Decimal
    high: Decimal

    def holds(self, amount: Decimal) -> bool:
        return self.low <= amount <= self.high


#: the parties fined and the article's range for each
ENTERPRISE = FineRange(Decimal(30000), Decimal(50000))
PRINCIPAL = FineRange(Decimal(5000), Decimal(10000))
RESPONSIBLE = FineRange(Decimal(3000), Decimal(5000))
PARTY_RANGES: dict[str, FineRange] = {
    "enterprise": ENTERPRISE,
    "principal": PRINCIPAL,
    "responsible": RESPONSIBLE,
}
PARTY_LABELS: dict[str, str] = {
    "enterprise": "煤矿企业",
    "principal": "主要负责人",
    "responsible": "直接责任人",
}


@dataclass(frozen=True, slots=True)
class Offence:
    code: str
    #: the article's item 第（n）项 and its words
    item: int
    label: str
    #: the ways of 第二十九条 must be named (the offence of people making it inoperable)
    needs_manner: bool = False

    @property
    def article(self) -> str:
        return f"{REGULATION}{ARTICLE}第（{'一二三四五'[self.item - 1]}）项"


OFFENCES: tuple[Offence, ...] = (
    Offence("uncertified_staff", 1, "工作人员未持证上岗"),
    Offence("system_not_installed", 2, "生产矿井未按规定安装煤炭产量监控系统"),
    Offence("made_inoperable", 3, "人为造成煤炭产量监控系统不能正常运行", needs_manner=True),
    Offence("overproduction_not_corrected", 4, "发生超能力生产行为不予纠正"),
    Offence("system_abandoned", 5, "故意弃用煤炭产量监控系统"),
)
OFFENCE_BY_CODE: dict[str, Offence] = {o.code: o for o in OFFENCES}

#: 第二十九条: the ways in which people make the system inoperable (group, then item)
MANNERS: dict[str, str] = {
    "line_signal": "人为破坏监控设备连接线路：称重组件到黑匣子的信号线被破坏、剪断或改变线序",
    "line_internal": "人为破坏监控设备连接线路：破坏称重组件内部连接信号线",
    "line_power": "人为破坏监控设备连接线路：破坏电源线，造成监控设备断电或供电不正常",
    "line_station": "人为破坏监控设备连接线路：破坏称重组件下位机及通讯管理站",
    "scale_bypass": "人为破坏称重组件：改变矿车通过称重组件的方式（如在称重组件上方搭桥）",
    "scale_structure": "人为破坏称重组件：改变称重组件的结构，造成称重数据出现偏差",
    "scale_replaced": "人为破坏称重组件：未经管理部门同意，自行更改称重组件",
    "scale_struck": "人为破坏称重组件：撞击称重组件，使其发生结构变化",
    "host_lock": "人为破坏监控主机：破坏机箱锁",
    "host_water": "人为破坏监控主机：向机箱注水",
    "host_struck": "人为破坏监控主机：机箱遭到重击，明显发生硬性损坏",
    "host_opened": "人为破坏监控主机：擅自强制打开机箱，破坏内部主板、电源板、发射装置或连接线路",
    "device_interference": "人为因素影响设备正常工作：通过装置影响产量数据上传",
    "other_interference": "人为因素影响设备正常工作：其他违规行为，影响数据上传",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """A penalty decision's measures: the fines (yuan) and the orders of a serious case."""

    serious: bool
    enterprise_fine: Decimal
    principal_fine: Decimal | None
    responsible_fine: Decimal | None
    stop_for_rectification: bool
    licence_held: bool


def decision_problems(offence: Offence, manner: str | None, decision: Decision) -> list[str]:
    """What the article does not allow in ``decision`` (gettext message ids; empty: lawful).

    The enterprise is always fined within its range. Only a serious case may order a stop
    for rectification or hold the licence, and a serious case fines the principal and
    the person directly responsible, each within their range (and the article's "并对"
    makes both fines part of it); a case that is not serious fines them not."""
    problems = []
    if offence.needs_manner and manner not in MANNERS:
        problems.append("人为造成系统不能正常运行须写明第二十九条所列情形")
    if not offence.needs_manner and manner is not None:
        problems.append("只有人为造成系统不能正常运行才写明情形")
    if not ENTERPRISE.holds(decision.enterprise_fine):
        problems.append("对煤矿企业的罚款须在 30000 元至 50000 元之间")
    if decision.serious:
        if decision.principal_fine is None or not PRINCIPAL.holds(decision.principal_fine):
            problems.append("情节严重的，对主要负责人的罚款须在 5000 元至 10000 元之间")
        if decision.responsible_fine is None or not RESPONSIBLE.holds(decision.responsible_fine):
            problems.append("情节严重的，对直接责任人的罚款须在 3000 元至 5000 元之间")
    else:
        if decision.principal_fine is not None or decision.responsible_fine is not None:
            problems.append("情节不严重的，不对主要负责人和直接责任人处以罚款")
        if decision.stop_for_rectification or decision.licence_held:
            problems.append("只有情节严重的，才责令停产整顿或者暂扣煤炭生产许可证")
    return problems


def total_fine(decision: Decision) -> Decimal:
    return (
        decision.enterprise_fine
        + (decision.principal_fine or Decimal(0))
        + (decision.responsible_fine or Decimal(0))
    )


#: a penalty record's states: decided 已决定 → executed 已执行 (every measure carried out)
STATUS_LABELS: dict[str, str] = {"decided": "已决定", "executed": "已执行"}
#: the kinds of evidence a record links
EVIDENCE_LABELS: dict[str, str] = {
    "alarm": "报警",
    "fault": "故障记录",
    "record": "主站记录",
    "attachment": "附件",
}
