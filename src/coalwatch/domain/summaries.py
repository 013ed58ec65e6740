"""Summaries upward 汇总上报, as rules: the month-end and year-end summaries 月终、年终汇总
(月终统一汇总上报上级煤炭主管部门；年终进行全年汇总上报) and the abnormal-situation report
异常情况上传报表 of a day, which the duty mine manager 值班矿长 reviews and signs.
Who signs each, in which order."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from coalwatch.domain.reports import SIGNING_ORDER, Signer


def _(message: str) -> str:
    """Marks a label for the message catalog; it is translated where it is shown."""
    return message


class SummaryKind(StrEnum):
    MONTH = "month"
    YEAR = "year"
    ABNORMAL = "abnormal"


TITLES: dict[SummaryKind, str] = {
    SummaryKind.MONTH: _("月终汇总"),
    SummaryKind.YEAR: _("年终汇总"),
    SummaryKind.ABNORMAL: _("异常情况上传报表"),
}

#: the signatures, in order: the period summaries as the daily report (值机员 → 值班矿长 →
#: 总工程师); the abnormal-situation report by the duty mine manager alone
SIGNERS: dict[SummaryKind, tuple[Signer, ...]] = {
    SummaryKind.MONTH: SIGNING_ORDER,
    SummaryKind.YEAR: SIGNING_ORDER,
    SummaryKind.ABNORMAL: (Signer.DUTY_MINE_MANAGER,),
}


def next_signer(kind: SummaryKind, signed: Sequence[Signer]) -> Signer | None:
    """Who signs next: the first of the kind's signers not signed yet, in order."""
    order = SIGNERS[kind]
    if list(signed) != list(order[: len(signed)]):
        raise ValueError(f"signatures out of order: {[s.value for s in signed]}")
    return order[len(signed)] if len(signed) < len(order) else None
