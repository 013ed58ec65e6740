"""Reports as XLSX workbooks, PDF (A4, the Chinese embedded) and printable HTML: the
same figures as the JSON (tonnes to 3 decimals, half-up)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from coalwatch.adapters.documents import (
    TONNES_FORMAT,
    Cell,
    Sheet,
    Table,
    render_html,
    render_pdf,
    xlsx_bytes,
)
from coalwatch.domain.acceptance import UNACCEPTED_MARK
from coalwatch.domain.reports import SIGNER_LABELS, SIGNING_ORDER, Signer
from coalwatch.production.schemas import Figure
from coalwatch.reports.schemas import DailyReport, PeriodReport, PeriodRow, SignatureOut

RATIO_FORMAT = "0.00%"
FIGURE_HEADER = [
    "毛煤 Gross (t)",
    "原煤 Raw (t)",
    "人工录入 Manual (t)",
    "生产能力 Capacity (t)",
    "计划 Plan (t)",
    "产能比 Ratio",
]
FIGURE_FORMATS = {1: TONNES_FORMAT, 2: TONNES_FORMAT, 3: TONNES_FORMAT, 4: TONNES_FORMAT}
FIGURE_FORMATS.update({5: TONNES_FORMAT, 6: RATIO_FORMAT})


def figure_cells(f: Figure) -> list[Cell]:
    return [f.gross_t, f.raw_t, f.manual_t, f.capacity_t, f.plan_t, f.ratio]


def signature_table(
    signatures: Sequence[SignatureOut], order: Sequence[Signer], tz: ZoneInfo
) -> Table:
    """审阅签字: a row per signer in ``order``, the signer and time where signed."""
    sigs = {s.role: s for s in signatures}
    return Table(
        header=["签字 Signature", "签字人 Signer", "时间 Signed at"],
        rows=[
            [
                f"{SIGNER_LABELS[role]} 审阅签字",
                sigs[role].signer if role in sigs else None,
                sigs[role].signed_at.astimezone(tz) if role in sigs else None,
            ]
            for role in order
        ],
    )


def daily_filename(report: DailyReport) -> str:
    return f"daily-{report.mine}-{report.date.isoformat()}-r{report.revision}"


def period_filename(report: PeriodReport) -> str:
    return f"{report.kind}-{report.code}-{report.key}"


def _local(report: DailyReport) -> ZoneInfo:
    return ZoneInfo(report.timezone)


def daily_xlsx(report: DailyReport) -> bytes:
    tz = _local(report)
    sheet = Sheet(
        title="监测日报表",
        heading=[
            f"监测日报表 Daily monitoring report {report.date.isoformat()}",
            f"矿井 Mine: {report.mine} {report.name}",
            f"单位 Org: {report.org} {report.org_name}",
            f"版本 Revision: {report.revision}  SHA-256: {report.sha256}",
            *([UNACCEPTED_NOTE] if report.unaccepted else []),
        ],
        tables=[
            Table(
                header=["时段 Hour", "班次 Shift", *FIGURE_HEADER],
                rows=[
                    [f"{h.hour:02d}:00–{(h.hour + 1) % 24:02d}:00", h.shift, *figure_cells(h)]
                    for h in report.hours
                ],
                formats={k + 1: v for k, v in FIGURE_FORMATS.items()},
            ),
            Table(
                header=["班次 Shift", "时段 Hours", *FIGURE_HEADER],
                rows=[
                    [
                        s.name,
                        f"{s.start_hour:02d}:00 +{s.hours}h",
                        *figure_cells(s),
                    ]
                    for s in report.shifts
                ],
                formats={k + 1: v for k, v in FIGURE_FORMATS.items()},
            ),
            Table(
                header=["累计 Period", "", *FIGURE_HEADER],
                rows=[
                    ["当日 Day", None, *figure_cells(report.day)],
                    ["月累计 Month to date", None, *figure_cells(report.month)],
                    ["年累计 Year to date", None, *figure_cells(report.year)],
                ],
                formats={k + 1: v for k, v in FIGURE_FORMATS.items()},
            ),
            Table(
                header=["报警 Alarm", "类型 Type", "计量点 Point", "开始 Start", "结束 End"],
                rows=[
                    [
                        a.label,
                        a.type,
                        a.point,
                        a.start.astimezone(tz),
                        a.end and a.end.astimezone(tz),
                    ]
                    for a in report.alarms
                ]
                or [["无 None"]],
            ),
            Table(
                header=[
                    "故障 Fault",
                    "现象 Phenomenon",
                    "计量点 Point",
                    "发生 Occurred",
                    "恢复 Recovered",
                ],
                rows=[
                    [
                        f.kind,
                        f.phenomenon,
                        f.point,
                        f.occurred_at.astimezone(tz),
                        f.recovered_at and f.recovered_at.astimezone(tz),
                    ]
                    for f in report.faults
                ]
                or [["无 None"]],
            ),
            Table(
                header=[
                    "人工录入 Manual",
                    "计量点 Point",
                    "开始 Start",
                    "结束 End",
                    "毛煤 Gross (t)",
                ],
                rows=[
                    [m.reason, m.point, m.start.astimezone(tz), m.end.astimezone(tz), m.gross_t]
                    for m in report.manual
                ]
                or [["无 None"]],
                formats={4: TONNES_FORMAT},
            ),
            signature_table(report.signatures, SIGNING_ORDER, tz),
        ],
        widths=[22, 24, 16, 16, 16, 16, 16, 12],
    )
    return xlsx_bytes([sheet])


def daily_html(report: DailyReport) -> str:
    """The printable document (the same HTML is the PDF's source)."""
    sigs = {s.role: s for s in report.signatures}
    return render_html(
        "reports/daily_pdf.html",
        r=report,
        tz=_local(report),
        signers=[(role, SIGNER_LABELS[role], sigs.get(role)) for role in SIGNING_ORDER],
    )


def daily_pdf(report: DailyReport) -> bytes:
    return render_pdf(daily_html(report))


PERIOD_CSV_HEADER = (
    "key",
    "label",
    "gross_t",
    "raw_t",
    "manual_t",
    "capacity_t",
    "plan_t",
    "ratio",
    "over",
)


#: what a daily report of a day with production while not accepted says (未验收)
UNACCEPTED_NOTE = (
    f"{UNACCEPTED_MARK}：本日产量记录于监控系统未经验收期间 "
    "(production recorded while the monitoring system was not accepted)"
)


def marked_label(row: PeriodRow) -> str:
    """A row's label, marked 未验收 when its production was recorded while not accepted."""
    return f"{row.label} [{UNACCEPTED_MARK}]" if row.unaccepted else row.label


def period_csv(report: PeriodReport) -> list[list[Cell]]:
    """One row per sub-period or mine, then the totals (key ``*``)."""
    rows: list[list[Cell]] = [
        [r.key, marked_label(r), *figure_cells(r), str(r.over).lower()] for r in report.rows
    ]
    t = report.total
    rows.append(["*", "合计", *figure_cells(t), str(t.over).lower()])
    return rows


def period_xlsx(report: PeriodReport) -> bytes:
    rows: list[Sequence[Cell]] = [[r.key, marked_label(r), *figure_cells(r)] for r in report.rows]
    rows.append(["合计 Total", None, *figure_cells(report.total)])
    sheet = Sheet(
        title=report.title.strip(),
        heading=[
            f"{report.title} {report.key}",
            f"{'矿井 Mine' if report.scope == 'mine' else '单位 Org'}: {report.code} {report.name}",
            f"期间 Period: {report.first_day} – {report.last_day}",
        ],
        tables=[
            Table(
                header=["编号 Key", "名称 Label", *FIGURE_HEADER],
                rows=rows,
                formats={k + 1: v for k, v in FIGURE_FORMATS.items()},
                bold_last=1,
            )
        ],
        notes=["合计 = 各行精确值之和，舍入一次 (totals: exact sums, rounded once)"],
        widths=[18, 22, 16, 16, 16, 16, 16, 12],
    )
    return xlsx_bytes([sheet])


def period_html(report: PeriodReport) -> str:
    return render_html("reports/period_pdf.html", r=report)


def period_pdf(report: PeriodReport) -> bytes:
    return render_pdf(period_html(report))
