"""Summaries as XLSX workbooks and PDF (A4, the Chinese embedded): the same figures as
the JSON (tonnes to 3 decimals, half-up), the signatures of the revision."""

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
from coalwatch.domain.reports import SIGNER_LABELS
from coalwatch.domain.summaries import SIGNERS, SummaryKind
from coalwatch.reports.documents import (
    FIGURE_FORMATS,
    FIGURE_HEADER,
    figure_cells,
    marked_label,
    signature_table,
)
from coalwatch.summaries.schemas import SummaryReport


def filename(report: SummaryReport) -> str:
    return f"summary-{report.kind}-{report.mine}-{report.period}-r{report.revision}"


def _signers(report: SummaryReport) -> list[tuple[str, str, object]]:
    """(role, label, its signature or None) in the kind's order."""
    sigs = {s.role: s for s in report.signatures}
    return [
        (role.value, SIGNER_LABELS[role], sigs.get(role))
        for role in SIGNERS[SummaryKind(report.kind)]
    ]


def xlsx(report: SummaryReport) -> bytes:
    tz = ZoneInfo(report.timezone)
    tables = []
    if report.total is not None:
        rows: list[Sequence[Cell]] = [
            [r.key, marked_label(r), *figure_cells(r)] for r in report.rows
        ]
        rows.append(["合计 Total", None, *figure_cells(report.total)])
        tables.append(
            Table(
                header=["期间 Period", "名称 Label", *FIGURE_HEADER],
                rows=rows,
                formats={k + 1: v for k, v in FIGURE_FORMATS.items()},
                bold_last=1,
            )
        )
    tables += [
        Table(
            header=["报警 Alarm", "次数 Count", "已处理 Handled"],
            rows=[[c.label, c.count, c.handled] for c in report.alarm_counts] or [["无 None"]],
        ),
        Table(
            header=[
                "报警 Alarm",
                "计量点 Point",
                "开始 Start",
                "结束 End",
                "确认 Acknowledged by",
                "处理 Handled by",
                "处理结果 Result",
            ],
            rows=[
                [
                    a.label,
                    a.point,
                    a.start.astimezone(tz),
                    a.end and a.end.astimezone(tz),
                    a.acknowledged_by,
                    a.handled_by,
                    a.result,
                ]
                for a in report.alarms
            ]
            or [["无 None"]],
        ),
        Table(
            header=[
                "故障 Fault",
                "计量点 Point",
                "发生 Occurred",
                "上报 Reported",
                "恢复 Recovered",
                "处理结果 Result",
                "核减 Reduction (t)",
            ],
            rows=[
                [
                    f.phenomenon,
                    f.point,
                    f.occurred_at.astimezone(tz),
                    f.reported_at and f.reported_at.astimezone(tz),
                    f.recovered_at and f.recovered_at.astimezone(tz),
                    f.result,
                    f.reduction_t,
                ]
                for f in report.faults
            ]
            or [["无 None"]],
            formats={6: TONNES_FORMAT},
        ),
        signature_table(report.signatures, SIGNERS[SummaryKind(report.kind)], tz),
    ]
    sheet = Sheet(
        title=report.title,
        heading=[
            f"{report.title} {report.period}",
            f"矿井 Mine: {report.mine} {report.name}",
            f"单位 Org: {report.org} {report.org_name}",
            f"期间 Period: {report.first_day} – {report.last_day}",
            f"版本 Revision: {report.revision}  SHA-256: {report.sha256}",
        ],
        tables=tables,
        notes=[
            f"报警已处理 Alarms handled: {report.alarms_handled}",
            f"故障已恢复 Faults recovered: {report.faults_recovered}",
            f"核减合计 Reduction (t): {report.reduction_t}",
        ],
        widths=[22, 22, 18, 18, 16, 16, 16, 12],
    )
    return xlsx_bytes([sheet])


def html(report: SummaryReport) -> str:
    """The printable document (the same HTML is the PDF's source)."""
    return render_html(
        "summaries/summary_pdf.html",
        r=report,
        tz=ZoneInfo(report.timezone),
        signers=_signers(report),
    )


def pdf(report: SummaryReport) -> bytes:
    return render_pdf(html(report))
