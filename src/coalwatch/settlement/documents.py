"""Statements as CSV rows, XLSX workbooks and PDF (A4): the same figures as the JSON,
with the rounding rule printed on every document."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from coalwatch.adapters.documents import (
    EXACT_TONNES_FORMAT,
    RATE_FORMAT,
    TONNES_FORMAT,
    YUAN_FORMAT,
    Cell,
    Sheet,
    Table,
    render_html,
    render_pdf,
    xlsx_bytes,
)
from coalwatch.settlement.schemas import OrgStatement, Statement
from coalwatch.settlement.service import ROUNDING_RULE, ROUNDING_RULE_ZH

TOTAL = "total"

STATEMENT_CSV_HEADER = (
    "mine",
    "month",
    "item",
    "name",
    "first_day",
    "last_day",
    "yuan_per_t",
    "raw_t",
    "raw_t_exact",
    "amount",
)


def statement_filename(statement: Statement) -> str:
    return f"statement-{statement.mine}-{statement.month}"


def org_statement_filename(statement: OrgStatement) -> str:
    return f"statement-{statement.org}-{statement.month}"


def statement_csv(statement: Statement) -> list[list[Cell]]:
    """One row per line, then the total (item ``total``, the amount only)."""
    rows: list[list[Cell]] = [
        [
            statement.mine,
            statement.month,
            line.item,
            line.name,
            line.first_day,
            line.last_day,
            line.yuan_per_t,
            line.raw_t,
            line.raw_t_exact,
            line.amount,
        ]
        for line in statement.lines
    ]
    rows.append(
        [
            statement.mine,
            statement.month,
            TOTAL,
            "合计",
            statement.first_day,
            statement.last_day,
            None,
            None,
            None,
            statement.total,
        ]
    )
    return rows


def org_statement_csv_header(statement: OrgStatement) -> list[str]:
    return [
        "mine",
        "name",
        "gross_t",
        "raw_t",
        "raw_t_exact",
        "manual_t",
        *(item.code for item in statement.items),
        "total",
    ]


def org_statement_csv(statement: OrgStatement) -> list[list[Cell]]:
    """One row per mine, then the sums (mine ``*``)."""
    rows: list[list[Cell]] = [
        [
            row.mine,
            row.name,
            row.gross_t,
            row.raw_t,
            row.raw_t_exact,
            row.manual_t,
            *(a.amount for a in row.amounts),
            row.total,
        ]
        for row in statement.mines
    ]
    total = statement.total
    rows.append(
        [
            "*",
            "合计",
            total.gross_t,
            total.raw_t,
            total.raw_t_exact,
            total.manual_t,
            *(a.amount for a in total.amounts),
            total.total,
        ]
    )
    return rows


def _state(statement: Statement) -> str:
    return "月份已结束" if statement.complete else "月份未结束，暂计 (provisional)"


def _computed(statement: Statement) -> str:
    """When the statement was computed, in the mine's local time."""
    local = statement.computed_at.astimezone(ZoneInfo(statement.timezone))
    return local.isoformat(timespec="seconds")


def statement_xlsx(statement: Statement) -> bytes:
    basis = statement.basis
    lines: list[Sequence[Cell]] = [
        [
            line.item,
            line.name,
            line.first_day,
            line.last_day,
            line.yuan_per_t,
            line.raw_t_exact,
            line.amount,
        ]
        for line in statement.lines
    ]
    lines.append(["合计 Total", None, None, None, None, None, statement.total])
    sheet = Sheet(
        title="月结算单",
        heading=[
            f"月结算单 Monthly settlement statement {statement.month}",
            f"矿井 Mine: {statement.mine} {statement.name}",
            f"单位 Org: {statement.org} {statement.org_name}",
            f"结算期 Period: {statement.first_day} – {statement.last_day} ({statement.timezone})",
            f"状态 State: {_state(statement)}",
            f"计算时间 Computed at: {_computed(statement)}",
            "币种 Currency: CNY (元)",
        ],
        tables=[
            Table(
                header=[
                    "毛煤 Gross (t)",
                    "原煤 Raw (t)",
                    "原煤精确值 Raw exact (t)",
                    "人工录入 Manual (t)",
                ],
                rows=[[basis.gross_t, basis.raw_t, basis.raw_t_exact, basis.manual_t]],
                formats={
                    0: TONNES_FORMAT,
                    1: TONNES_FORMAT,
                    2: EXACT_TONNES_FORMAT,
                    3: TONNES_FORMAT,
                },
            ),
            Table(
                header=["折算系数起 From", "折算系数止 To", "折算系数 k (%)"],
                rows=[[c.first_day, c.last_day, c.percent] for c in basis.coefficients]
                or [["—", "—", Decimal(0)]],
                formats={2: "0.00"},
            ),
            Table(
                header=[
                    "项目编号 Item",
                    "项目 Name",
                    "起 From",
                    "止 To",
                    "费率 Rate (元/t)",
                    "原煤 Raw (t, exact)",
                    "金额 Amount (元)",
                ],
                rows=lines,
                formats={4: RATE_FORMAT, 5: EXACT_TONNES_FORMAT, 6: YUAN_FORMAT},
                bold_last=1,
            ),
            Table(
                header=["日期 Day", "毛煤 Gross (t)", "原煤 Raw (t, exact)", "人工录入 Manual (t)"],
                rows=[[d.day, d.gross_t, d.raw_t_exact, d.manual_t] for d in basis.days],
                formats={1: TONNES_FORMAT, 2: EXACT_TONNES_FORMAT, 3: TONNES_FORMAT},
            ),
        ],
        notes=[f"舍入规则：{ROUNDING_RULE_ZH}", f"Rounding: {ROUNDING_RULE}"],
        widths=[22, 26, 16, 16, 18, 22, 18],
    )
    return xlsx_bytes([sheet])


def org_statement_xlsx(statement: OrgStatement) -> bytes:
    total = statement.total
    rows: list[Sequence[Cell]] = [
        [
            row.mine,
            row.name,
            row.gross_t,
            row.raw_t_exact,
            row.manual_t,
            *(a.amount for a in row.amounts),
            row.total,
        ]
        for row in statement.mines
    ]
    rows.append(
        [
            "合计 Total",
            None,
            total.gross_t,
            total.raw_t_exact,
            total.manual_t,
            *(a.amount for a in total.amounts),
            total.total,
        ]
    )
    n = len(statement.items)
    formats = {2: TONNES_FORMAT, 3: EXACT_TONNES_FORMAT, 4: TONNES_FORMAT}
    formats.update({5 + i: YUAN_FORMAT for i in range(n + 1)})
    sheet = Sheet(
        title="月结算汇总",
        heading=[
            f"月结算汇总 Monthly settlement by mine {statement.month}",
            f"单位 Org: {statement.org} {statement.name}",
            f"计算时间 Computed at: {statement.computed_at.isoformat(timespec='seconds')}",
            "币种 Currency: CNY (元)",
        ],
        tables=[
            Table(
                header=[
                    "矿井 Mine",
                    "名称 Name",
                    "毛煤 Gross (t)",
                    "原煤 Raw (t, exact)",
                    "人工录入 Manual (t)",
                    *(f"{item.name} ({item.code}) 元" for item in statement.items),
                    "合计 Total (元)",
                ],
                rows=rows,
                formats=formats,
                bold_last=1,
            )
        ],
        notes=[f"舍入规则：{ROUNDING_RULE_ZH}", f"Rounding: {ROUNDING_RULE}"],
        widths=[16, 22, 16, 20, 16, *([20] * (n + 1))],
    )
    return xlsx_bytes([sheet])


def statement_html(statement: Statement) -> str:
    return render_html(
        "settlement/statement_pdf.html",
        s=statement,
        state=_state(statement),
        computed=_computed(statement),
        rule=ROUNDING_RULE,
        rule_zh=ROUNDING_RULE_ZH,
    )


def statement_pdf(statement: Statement) -> bytes:
    return render_pdf(statement_html(statement))


def org_statement_pdf(statement: OrgStatement) -> bytes:
    return render_pdf(
        render_html(
            "settlement/org_statement_pdf.html",
            s=statement,
            rule=ROUNDING_RULE,
            rule_zh=ROUNDING_RULE_ZH,
        )
    )
