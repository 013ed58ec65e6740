from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from coalwatch.adapters.documents import PDF, XLSX
from coalwatch.reports import documents, service
from coalwatch.reports.schemas import (
    DailyFormat,
    DailyReport,
    PendingList,
    PeriodFormat,
    PeriodKind,
    PeriodReport,
    RevisionList,
    ShiftsIn,
    ShiftsOut,
    SignIn,
)
from coalwatch.web.context import Ctx
from coalwatch.web.exports import csv_response, file_response
from coalwatch.web.formats import CSV

router = APIRouter(tags=["reports"])
Report = TypeVar("Report")
MinePath = Annotated[str, Path(max_length=64)]
Day = Annotated[
    str,
    Path(
        description="the mine-local day, YYYY-MM-DD",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        examples=["2026-03-14"],
    ),
]
Key = Annotated[
    str,
    Path(
        max_length=16,
        description=(
            "the period: shift `2026-03-15` (a day; the shift by `shift=`), dekad 旬 "
            "`2026-03-2` (1: days 1–10, 2: 11–20, 3: 21–end), month `2026-03`, quarter "
            "`2026-Q1`, year `2026`"
        ),
        examples=["2026-03"],
    ),
]
ShiftQuery = Annotated[
    str | None,
    Query(max_length=32, description="shift reports: the shift's name or number (1 = first)"),
]
BINARY = {"schema": {"type": "string", "format": "binary"}}
HTML_TEXT = {"schema": {"type": "string"}}
DAILY_CONTENT: dict[str, Any] = {
    "description": "JSON, or the printable HTML, an A4 PDF or XLSX with `format=`",
    "content": {"text/html": HTML_TEXT, PDF: BINARY, XLSX: BINARY},
}
PERIOD_CONTENT: dict[str, Any] = {
    "description": "JSON, or CSV, XLSX, an A4 PDF or the printable HTML with `format=`",
    "content": {
        CSV: {"schema": {"type": "string"}},
        "text/html": HTML_TEXT,
        PDF: BINARY,
        XLSX: BINARY,
    },
}


@router.get(
    "/mines/{mine}/reports/daily/{day}",
    summary="The daily monitoring report 监测日报表 of a mine's day",
    description=(
        "The latest revision of the day (made, or refreshed while not signed); a day that "
        "has not ended is provisional (revision 0, not stored). `stale` tells that the "
        "figures changed after the revision was signed: `regenerate` makes the next one."
    ),
    response_model=DailyReport,
    responses={200: DAILY_CONTENT},
)
def daily(
    mine: MinePath, day: Day, ctx: Ctx, format: DailyFormat = "json"
) -> DailyReport | Response:
    with ctx.session() as session:
        report = service.daily(session, ctx.principal(session), mine, day, ctx.now())
    return daily_answer(report, format)


def daily_answer(report: DailyReport, format: str) -> DailyReport | Response:
    """The report in ``format``: the API's answer, and the pages' downloads."""
    return document_answer(
        report,
        format,
        documents.daily_filename(report),
        documents.daily_xlsx,
        documents.daily_pdf,
        documents.daily_html,
    )


def document_answer(
    report: Report,
    format: str,
    name: str,
    xlsx: Callable[[Report], bytes],
    pdf: Callable[[Report], bytes],
    html: Callable[[Report], str],
) -> Report | Response:
    """A report (or summary) as XLSX, PDF or printable HTML, else itself (JSON)."""
    if format == "xlsx":
        return file_response(f"{name}.xlsx", xlsx(report), XLSX)
    if format == "pdf":
        return file_response(f"{name}.pdf", pdf(report), PDF)
    if format == "html":
        return HTMLResponse(html(report))
    return report


@router.post(
    "/mines/{mine}/reports/daily/{day}/sign",
    summary="Sign the daily report 审阅签字: duty operator → duty mine manager → chief engineer",
    description=(
        "Needs `report:sign` and the role signed in (a user holds that built-in role; a "
        "write token names it). Out of order or in the wrong role: 403. The last signature "
        "submits the revision upward."
    ),
)
def sign(mine: MinePath, day: Day, data: SignIn, ctx: Ctx) -> DailyReport:
    with ctx.session() as session:
        return service.sign(session, ctx.principal(session), mine, day, data.role, ctx.now())


@router.post(
    "/mines/{mine}/reports/daily/{day}/regenerate",
    summary="Recompute an ended day; after signing, a changed figure makes the next revision",
)
def regenerate(mine: MinePath, day: Day, ctx: Ctx) -> DailyReport:
    with ctx.session() as session:
        return service.regenerate(session, ctx.principal(session), mine, day, ctx.now())


@router.get(
    "/mines/{mine}/reports/daily/{day}/revisions",
    summary="Every revision of a day's report, with its signatures",
)
def revisions(mine: MinePath, day: Day, ctx: Ctx) -> RevisionList:
    with ctx.session() as session:
        return service.revisions(session, ctx.principal(session), mine, day)


@router.get("/reports/pending", summary="报表审签: reports waiting for the caller's signature")
def pending(ctx: Ctx) -> PendingList:
    with ctx.session() as session:
        return PendingList(items=service.pending(session, ctx.principal(session)))


@router.get("/mines/{mine}/reports/shifts", summary="A mine's shifts 班次 for its reports")
def get_shifts(mine: MinePath, ctx: Ctx) -> ShiftsOut:
    with ctx.session() as session:
        return service.get_shifts(session, ctx.principal(session), mine)


@router.put(
    "/mines/{mine}/reports/shifts",
    summary="Set a mine's shifts (each hour of the day in exactly one shift; audited)",
)
def set_shifts(mine: MinePath, data: ShiftsIn, ctx: Ctx) -> ShiftsOut:
    with ctx.session() as session:
        return service.set_shifts(session, ctx.principal(session), mine, data, ctx.now())


def period_answer(report: PeriodReport, format: str) -> PeriodReport | Response:
    name = documents.period_filename(report)
    if format == "csv":
        return csv_response(name, documents.PERIOD_CSV_HEADER, documents.period_csv(report))
    return document_answer(
        report,
        format,
        name,
        documents.period_xlsx,
        documents.period_pdf,
        documents.period_html,
    )


@router.get(
    "/mines/{mine}/reports/{kind}/{key}",
    summary="A mine's shift / ten-day 旬 / month / quarter / year report",
    description="One row per hour (shift), day (旬, month) or month (quarter, year); totals.",
    response_model=PeriodReport,
    responses={200: PERIOD_CONTENT},
)
def mine_period(
    mine: MinePath,
    kind: PeriodKind,
    key: Key,
    ctx: Ctx,
    format: PeriodFormat = "json",
    shift: ShiftQuery = None,
) -> PeriodReport | Response:
    with ctx.session() as session:
        report = service.mine_period(
            session, ctx.principal(session), mine, kind, key, ctx.now(), shift
        )
    return period_answer(report, format)


@router.get(
    "/orgs/{org}/reports/{kind}/{key}",
    summary="An org's period report: one row per mine, and the totals",
    description="Periods in the deployment's time zone; totals are exact sums rounded once.",
    response_model=PeriodReport,
    responses={200: PERIOD_CONTENT},
)
def org_period(
    org: Annotated[str, Path(max_length=64)],
    kind: PeriodKind,
    key: Key,
    ctx: Ctx,
    format: PeriodFormat = "json",
    shift: ShiftQuery = None,
) -> PeriodReport | Response:
    with ctx.session() as session:
        report = service.org_period(
            session, ctx.principal(session), org, kind, key, ctx.now(), ctx.settings.tz, shift
        )
    return period_answer(report, format)
