"""Pages of 区域监管: 辖区产量 (production by sub-region and mine, CSV/XLSX), 超产排名
(mines by capacity ratio) and 故障与上报 (open faults, late reports)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from coalwatch.domain.alarms import LABELS
from coalwatch.domain.periods import Period
from coalwatch.errors import Invalid
from coalwatch.orgs import service as orgs
from coalwatch.production.schemas import Figure
from coalwatch.region import service
from coalwatch.web.exports import csv_response, xlsx_response
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
RegionPage = Annotated[Page, Depends(need(service.VIEW))]
Code = Annotated[str | None, Query(max_length=64)]
PERIOD_LABELS = {"hour": "时", "day": "日", "month": "月", "year": "年"}


def _units(page: Page) -> list[tuple[str, str, int]]:
    """The orgs in scope, indented by depth (the first is the region shown by default)."""
    with page.session() as session:
        items = orgs.list_orgs(session, page.principal)
    depth: dict[str, int] = {}
    out = []
    for org in items:
        depth[org.code] = depth.get(org.parent, -1) + 1 if org.parent else 0
        out.append((org.code, org.name, depth[org.code]))
    return out


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


@router.get("/region/production")
def production(
    page: RegionPage,
    org: Code = None,
    period: Period = Period.DAY,
    start: Start = None,
    end: End = None,
    format: Annotated[str | None, Query(pattern="^(csv|xlsx)$")] = None,
) -> Response:
    """辖区产量: the region's production over a range, per sub-region and per mine."""
    units = _units(page)
    org = org or (units[0][0] if units else None)
    first, last, begin, finish = _range(page, period, start, end)
    view = None
    if org:
        with page.session() as session:
            view = service.region_production(
                session,
                page.principal,
                org,
                period,
                begin,
                finish,
                page.now(),
                page.state.settings.tz,
            )
    if format and view is not None:
        return _export(page, format, view.name, period, first, last, view.rows)
    query = urlencode(
        {
            "org": org or "",
            "period": period.value,
            "from": first.isoformat(),
            "to": last.isoformat(),
        }
    )
    return page.render(
        "region/production.html",
        view=view,
        units=units,
        org=org or "",
        period=period.value,
        first=first,
        last=last,
        query=query,
    )


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
        line(f"{r.name} {labels[r.kind]}" if r.kind in labels else r.name, r.code, r.figure)
        for r in rows
    ]
    name = f"{title}-{_('辖区产量')}-{_(PERIOD_LABELS[period.value])}-{first}-{last}"
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
    units = _units(page)
    org = org or (units[0][0] if units else None)
    first, last, begin, finish = _range(page, period, start, end)
    view = None
    if org:
        with page.session() as session:
            view = service.ranking(
                session,
                page.principal,
                org,
                period,
                begin,
                finish,
                page.now(),
                page.state.settings.tz,
            )
    return page.render(
        "region/ranking.html",
        view=view,
        units=units,
        org=org or "",
        period=period.value,
        first=first,
        last=last,
    )


@router.get("/region/faults")
def faults(page: RegionPage, org: Code = None) -> Response:
    """故障与上报: open faults with their 1 h / 2 h status, late reports."""
    units = _units(page)
    org = org or (units[0][0] if units else None)
    view = None
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
    )
