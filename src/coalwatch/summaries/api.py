"""The JSON routes of the summaries upward: month-end, year-end and abnormal-situation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from coalwatch.reports.api import DAILY_CONTENT, document_answer
from coalwatch.reports.schemas import DailyFormat
from coalwatch.summaries import documents, service
from coalwatch.summaries.schemas import ReceivedSummaryList, SummaryReport, SummarySignIn
from coalwatch.web.context import Ctx

router = APIRouter(tags=["summaries"])

KindPath = Annotated[str, Path(max_length=16, description="month | year | abnormal")]
PeriodPath = Annotated[
    str, Path(max_length=10, description="2026-03 (month), 2026 (year), 2026-03-15 (abnormal)")
]
BASE = "/mines/{mine}/summaries/{kind}/{period}"


@router.get(
    BASE,
    summary="A summary (月终/年终汇总, 异常情况上传报表) of a mine",
    response_model=SummaryReport,
    responses={200: DAILY_CONTENT},
)
def get_summary(
    mine: str, kind: KindPath, period: PeriodPath, ctx: Ctx, format: DailyFormat = "json"
) -> SummaryReport | Response:
    with ctx.session() as session:
        report = service.summary(session, ctx.principal(session), mine, kind, period, ctx.now())
    return summary_answer(report, format)


def summary_answer(report: SummaryReport, format: str) -> SummaryReport | Response:
    """The summary in ``format``: the API's answer, and the page's downloads."""
    name = documents.filename(report)
    return document_answer(report, format, name, documents.xlsx, documents.pdf, documents.html)


@router.post(
    f"{BASE}/sign",
    summary="Sign a summary in a role; the last signature submits it upward (上报)",
)
def sign(
    mine: str, kind: KindPath, period: PeriodPath, data: SummarySignIn, ctx: Ctx
) -> SummaryReport:
    with ctx.session() as session:
        return service.sign(
            session, ctx.principal(session), mine, kind, period, data.role, ctx.now()
        )


@router.post(f"{BASE}/regenerate", summary="Recompute an ended period's summary")
def regenerate(mine: str, kind: KindPath, period: PeriodPath, ctx: Ctx) -> SummaryReport:
    with ctx.session() as session:
        return service.regenerate(session, ctx.principal(session), mine, kind, period, ctx.now())


@router.get("/summaries/received", summary="Summaries received from the centers below (已上报)")
def received(
    ctx: Ctx, mine: Annotated[str | None, Query(max_length=64)] = None
) -> ReceivedSummaryList:
    with ctx.session() as session:
        return service.received(session, ctx.principal(session), mine)
