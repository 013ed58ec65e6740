"""Pages of 实时监测: 矿井总览 (dashboard), 区域总览 (region view), 大屏 (wall)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from coalwatch.monitor import service
from coalwatch.monitor.schemas import Wall
from coalwatch.orgs import service as orgs
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
Monitor = Annotated[Page, Depends(need("monitor:view"))]
Code = Annotated[str | None, Query(max_length=64)]


@router.get("/monitor")
def dashboard(page: Monitor, mine: Code = None) -> Response:
    with page.session() as session:
        view = service.overview(session, page.principal, page.now(), mine=mine or None)
    return page.render("monitor/dashboard.html", view=view, mine=mine or "")


@router.get("/monitor/live")
def dashboard_live(page: Monitor, mine: Code = None) -> Response:
    with page.session() as session:
        view = service.overview(session, page.principal, page.now(), mine=mine or None)
    return page.render("monitor/_mines.html", view=view, mine=mine or "")


def _org_choices(page: Page) -> list[tuple[str, str, int]]:
    with page.session() as session:
        items = orgs.list_orgs(session, page.principal)
    depth: dict[str, int] = {}
    out = []
    for org in items:
        depth[org.code] = depth.get(org.parent, -1) + 1 if org.parent else 0
        out.append((org.code, org.name, depth[org.code]))
    return out


def _region(page: Page, sort: str, period: str, org: str | None) -> dict[str, Any]:
    sort = sort if sort in service.SORTS else "ratio"
    period = period if period in ("day", "month", "year") else "day"
    with page.session() as session:
        view = service.overview(
            session,
            page.principal,
            page.now(),
            org=org or None,
            limit=None,
            details=False,
            sort=sort,
            period=period,
        )
    return {"view": view, "sort": sort, "period": period, "org": org or ""}


@router.get("/monitor/region")
def region(page: Monitor, sort: str = "ratio", period: str = "day", org: Code = None) -> Response:
    return page.render(
        "monitor/region.html", orgs=_org_choices(page), **_region(page, sort, period, org)
    )


@router.get("/monitor/region/live")
def region_live(
    page: Monitor, sort: str = "ratio", period: str = "day", org: Code = None
) -> Response:
    return page.render("monitor/_region.html", **_region(page, sort, period, org))


def _charts(page: Page, wall: Wall) -> dict[str, Any]:
    ranked = wall.overview.mines[:12]
    return {
        "hours": {
            "x": [page.fmt.clock(h.start, seconds=False) for h in wall.hours],
            "series": [
                {
                    "name": page._("毛煤"),
                    "type": "bar",
                    "data": [float(h.gross_t) for h in wall.hours],
                },
                {
                    "name": page._("原煤"),
                    "type": "bar",
                    "data": [float(h.raw_t) for h in wall.hours],
                },
                {
                    "name": page._("时生产能力"),
                    "type": "line",
                    "data": [
                        None if h.capacity_t is None else float(h.capacity_t) for h in wall.hours
                    ],
                },
            ],
        },
        "ratios": {
            "x": [m.name for m in ranked],
            "axes": [{"name": "%"}],
            "series": [
                {
                    "name": page._("当天产能比"),
                    "type": "bar",
                    "percent": True,
                    "data": [
                        None if m.summary.day.ratio is None else float(m.summary.day.ratio * 100)
                        for m in ranked
                    ],
                }
            ],
        },
    }


@router.get("/monitor/wall")
def wall(page: Monitor) -> Response:
    with page.session() as session:
        data = service.wall(session, page.principal, page.now(), page.state.settings.tz)
    return page.render("monitor/wall.html", wall=data, charts=_charts(page, data))


@router.get("/monitor/wall/live")
def wall_live(page: Monitor) -> Response:
    with page.session() as session:
        data = service.wall(session, page.principal, page.now(), page.state.settings.tz)
    return page.render("monitor/_wall.html", wall=data, charts=_charts(page, data))
