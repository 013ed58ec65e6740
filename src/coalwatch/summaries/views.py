"""Pages of 报表管理: 月终/年终汇总 and 异常情况上传报表 (shown, signed in order, submitted
upward by the last signature)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from coalwatch.domain.reports import SIGNER_LABELS
from coalwatch.domain.summaries import SIGNERS, TITLES, SummaryKind
from coalwatch.errors import CoalwatchError
from coalwatch.mines import service as mines
from coalwatch.reports import signing
from coalwatch.summaries import service
from coalwatch.summaries.api import summary_answer
from coalwatch.summaries.schemas import SummaryReport, SummarySignIn
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
ReportPage = Annotated[Page, Depends(need("report:view"))]
Param = Annotated[str | None, Query(max_length=64)]


def default_period(kind: SummaryKind, today: date) -> str:
    """The last ended period: last month, last year, yesterday."""
    if kind is SummaryKind.MONTH:
        return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    if kind is SummaryKind.YEAR:
        return str(today.year - 1)
    return (today - timedelta(days=1)).isoformat()


def _url(mine: str, kind: str, period: str) -> str:
    return f"/reports/summaries?mine={mine}&kind={kind}&period={period}"


@router.get("/reports/summaries")
def summaries_page(
    page: ReportPage, mine: Param = None, kind: Param = None, period: Param = None
) -> Response:
    chosen = SummaryKind(kind) if kind in {k.value for k in SummaryKind} else SummaryKind.MONTH
    report: SummaryReport | None = None
    error = None
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        code = mine or (items[0].code if items else None)
        current = next((m for m in items if m.code == code), None)
        today = page.now().astimezone(page.state.settings.tz).date()
        key = period or default_period(chosen, today)
        may_sign = {}
        if current is not None:
            try:
                report = service.summary(
                    session, page.principal, current.code, chosen, key, page.now()
                )
            except CoalwatchError as exc:
                error = exc.translated(page._)
            may_sign = {
                s.value: signing.may_sign_as(session, page.principal, s) for s in SIGNERS[chosen]
            }
    return page.render(
        "summaries/summary.html",
        mines=items,
        mine=code,
        current=current,
        kind=chosen.value,
        kinds=[(k.value, TITLES[k]) for k in SummaryKind],
        period=key,
        report=report,
        error=error,
        signers=[(s.value, SIGNER_LABELS[s]) for s in SIGNERS[chosen]],
        may_sign=may_sign,
    )


@router.post("/reports/summaries/{mine}/{kind}/{period}/sign")
async def sign(page: ReportPage, mine: str, kind: str, period: str) -> Response:
    def action(session: Session, data: SummarySignIn) -> None:
        service.sign(session, page.principal, mine, kind, period, data.role, page.now())

    return await submit(
        page, SummarySignIn, action, back=_url(mine, kind, period), done=page._("已签字")
    )


class _Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")


@router.post("/reports/summaries/{mine}/{kind}/{period}/regenerate")
async def regenerate(page: ReportPage, mine: str, kind: str, period: str) -> Response:
    def action(session: Session, _: _Confirm) -> None:
        service.regenerate(session, page.principal, mine, kind, period, page.now())

    return await submit(
        page, _Confirm, action, back=_url(mine, kind, period), done=page._("已重新生成")
    )


@router.get("/reports/summaries/{mine}/{kind}/{period}/document.{fmt}")
def summary_file(
    page: ReportPage,
    mine: Annotated[str, Path(max_length=64)],
    kind: Annotated[str, Path(max_length=16)],
    period: Annotated[str, Path(max_length=10)],
    fmt: Literal["pdf", "xlsx", "html"],
) -> Response:
    """The summary's PDF, XLSX or printable HTML, for the signed-in browser."""
    with page.session() as session:
        report = service.summary(session, page.principal, mine, kind, period, page.now())
    answer = summary_answer(report, fmt)
    assert isinstance(answer, Response)
    return answer
