"""Pages of 区域监管: 辖区产量 (production by sub-region and mine, CSV/XLSX), 超产排名
(mines by capacity ratio, with their open notices) and 故障与上报 (open faults, late
reports, telephone reports to confirm and pending reductions to confirm or waive). Every
problem shown links to 下发整改通知, prefilled with it (``notices.views``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from coalwatch.domain.alarms import LABELS
from coalwatch.domain.authority import SUPERVISING_KINDS
from coalwatch.domain.periods import Period
from coalwatch.errors import Invalid
from coalwatch.faults import service as fault_service
from coalwatch.faults.schemas import ReductionDecisionIn, ReportDecisionIn
from coalwatch.notices import service as notices
from coalwatch.orgs import service as orgs
from coalwatch.production.schemas import Figure
from coalwatch.region import service
from coalwatch.web.exports import csv_response, xlsx_response
from coalwatch.web.forms import back_to, submit
from coalwatch.web.listing import Format
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
RegionPage = Annotated[Page, Depends(need(service.VIEW))]
Code = Annotated[str | None, Query(max_length=64)]
PERIOD_LABELS = {"hour": "时", "day": "日", "month": "月", "year": "年"}


def _units(page: Page, org: str | None) -> tuple[list[tuple[str, str, int]], str | None]:
    """The orgs in scope, indented by depth, and the one asked for (else the first)."""
    with page.session() as session:
        items = orgs.list_orgs(session, page.principal)
    depth: dict[str, int] = {}
    out = []
    for item in items:
        depth[item.code] = depth.get(item.parent, -1) + 1 if item.parent else 0
        out.append((item.code, item.name, depth[item.code]))
    return out, org or (out[0][0] if out else None)


def _range(
    page: Page, period: Period, start: date | None, end: date | None
) -> tuple[date, date, datetime, datetime]:
    tz = page.state.settings.tz
    today = page.now().astimezone(tz).date()
    first = {
        Period.HOUR: today,
        Period.DAY: today.replace(day=1),
        Period.MONTH: date(today.year, 1, 1),
        Period.YEAR: date(today.year - 4, 1, 1),
    }[period]
    first, last = start or first, end or today
    if last < first:
        raise Invalid(page._("结束日期不能早于开始日期"))
    return (
        first,
        last,
        datetime.combine(first, time(), tz),
        datetime.combine(last + timedelta(days=1), time(), tz),
    )


Start = Annotated[date | None, Query(alias="from")]
End = Annotated[date | None, Query(alias="to")]
View = TypeVar("View")


@dataclass
class _Ranged(Generic[View]):
    """A page over a range of days: the org's figures (None without an org), the orgs
    to pick from and the filters as chosen."""

    view: View | None
    units: list[tuple[str, str, int]]
    org: str
    period: Period
    first: date
    last: date

    def context(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "units": self.units,
            "org": self.org,
            "period": self.period.value,
            "first": self.first,
            "last": self.last,
        }


def _ranged(
    page: Page,
    org: str | None,
    period: Period,
    start: date | None,
    end: date | None,
    figures: Callable[..., View],
) -> _Ranged[View]:
    """``figures`` (``service.region_production`` or ``service.ranking``) of the org
    asked for (else the first in scope) over the days asked for."""
    units, org = _units(page, org)
    first, last, begin, finish = _range(page, period, start, end)
    view = None
    if org:
        with page.session() as session:
            view = figures(
                session,
                page.principal,
                org,
                period,
                begin,
                finish,
                page.now(),
                page.state.settings.tz,
            )
    return _Ranged(view, units, org or "", period, first, last)


@router.get("/region/production")
def production(
    page: RegionPage,
    org: Code = None,
    period: Period = Period.DAY,
    start: Start = None,
    end: End = None,
    format: Format = None,
) -> Response:
    """辖区产量: the region's production over a range, per sub-region and per mine."""
    r = _ranged(page, org, period, start, end, service.region_production)
    if format and r.view is not None:
        return _export(page, format, r.view.name, period, r.first, r.last, r.view.rows)
    query = {
        "org": r.org,
        "period": period.value,
        "from": r.first.isoformat(),
        "to": r.last.isoformat(),
    }
    return page.render("region/production.html", query=urlencode(query), **r.context())


def _export(
    page: Page,
    format: str,
    title: str,
    period: Period,
    first: date,
    last: date,
    rows: list[Any],
) -> Response:
    _ = page._
    header = [
        _("单位/矿井"), _("编码"), _("毛煤 (t)"), _("原煤 (t)"), _("其中人工录入 (t)"),
        _("生产能力 (t)"), _("产量计划 (t)"), _("产能比"), _("超产产量 (t)"),
    ]  # fmt: skip

    def line(name: str, code: str, f: Figure) -> list[Any]:
        return [
            name, code, f.gross_t, f.raw_t, f.manual_t, f.capacity_t, f.plan_t, f.ratio,
            f.excess_t,
        ]  # fmt: skip

    labels = {"total": _("合计"), "org": _("小计")}
    table = [
        line(
            f"{r.name} {labels[r.kind]}"
            if r.kind in labels
            else f"{r.name} [{_('未验收')}]"
            if getattr(r, "unaccepted", False)
            else r.name,
            r.code,
            r.figure,
        )
        for r in rows
    ]
    name = f"{title}-{_('辖区产量')}-{page.label(PERIOD_LABELS[period.value])}-{first}-{last}"
    if format == "csv":
        return csv_response(name, header, table)
    return xlsx_response(
        name, _("辖区产量"), header, table, tonnes_columns=(2, 3, 4, 5, 6, 8), percent_columns=(7,)
    )


@router.get("/region/ranking")
def ranking(
    page: RegionPage,
    org: Code = None,
    period: Period = Period.DAY,
    start: Start = None,
    end: End = None,
) -> Response:
    """超产排名: the mines by capacity ratio over the range, with their open alarms."""
    ranged = _ranged(page, org, period, start, end, service.ranking)
    codes = [r.mine for r in ranged.view.items] if ranged.view is not None else []
    with page.session() as session:
        counts = notices.open_counts_by_code(session, codes, page.now())
    return page.render("region/ranking.html", notice_counts=counts, **ranged.context())


@router.get("/region/faults")
def faults(page: RegionPage, org: Code = None) -> Response:
    """故障与上报: open faults with their 1 h / 2 h status, late reports."""
    units, org = _units(page, org)
    view = None
    with page.session() as session:
        unit = orgs.unit_of(session, page.principal)
    # the forms to confirm or waive: for a supervising unit's user with region:reduction
    decides = page.principal.has(fault_service.REDUCTION) and (
        unit is None or unit.kind in SUPERVISING_KINDS
    )
    if org:
        with page.session() as session:
            view = service.region_faults(
                session,
                page.principal,
                org,
                page.now(),
                page.state.settings.tz,
                page.state.settings.report_deadline_hour,
            )
    return page.render(
        "region/faults.html",
        view=view,
        units=units,
        org=org or "",
        kinds={k.value: v for k, v in LABELS.items()},
        deadline_hour=page.state.settings.report_deadline_hour,
        decides=decides,
    )


def _faults_back(page: Page) -> str:
    return back_to(page, "/region/faults")


@router.post("/region/faults/{fault_id}/reduction")
async def decide_reduction(page: RegionPage, fault_id: int) -> Response:
    """核减/免减: the supervising unit confirms or waives a fault's pending reduction."""
    return await submit(
        page,
        ReductionDecisionIn,
        lambda session, data: fault_service.decide_reduction(
            session, page.principal, fault_id, data, page.now()
        ),
        back=_faults_back(page),
        done=page._("核减决定已保存") + f" #{fault_id}",
    )


@router.post("/region/faults/{fault_id}/report-confirm")
async def confirm_report(page: RegionPage, fault_id: int) -> Response:
    """The supervising unit confirms (or rejects) a fault's telephone report."""
    return await submit(
        page,
        ReportDecisionIn,
        lambda session, data: fault_service.confirm_report(
            session, page.principal, fault_id, data, page.now()
        ),
        back=_faults_back(page),
        done=page._("电话上报确认已保存") + f" #{fault_id}",
    )
