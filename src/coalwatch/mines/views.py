"""Configuration pages: 矿井与计量点, 主站管理 (系统设置) and 产能与计划 (生产管理); 折算系数 and
人工录入 are workflows of coalwatch.workflows. Every change goes through the mines service,
which checks the permission."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.mines import service
from coalwatch.mines.schemas import (
    LicensedCapacityIn,
    MineConfig,
    MineIn,
    MineOut,
    MonthPlanIn,
    PlanIn,
    PointIn,
    StationIn,
)
from coalwatch.orgs import service as orgs
from coalwatch.schemas import Code
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need
from coalwatch.workflows.views import STATUS_LABELS, requests_of

router = APIRouter(include_in_schema=False)
SystemPage = Annotated[Page, Depends(need("system:view"))]
ProductionPage = Annotated[Page, Depends(need("production:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]


def _mines(page: Page) -> list[MineOut]:
    with page.session() as session:
        return service.list_mines(session, page.principal, page.now())


def _chosen(mines: list[MineOut], code: str | None) -> str | None:
    if code:
        return code
    return mines[0].code if mines else None


def _config(page: Page, code: str | None) -> MineConfig | None:
    if code is None:
        return None
    with page.session() as session:
        return service.mine_config(session, page.principal, code, page.now())


def _units(page: Page) -> list[tuple[str, str, int]]:
    with page.session() as session:
        items = orgs.list_orgs(session, page.principal)
    depth: dict[str, int] = {}
    out = []
    for org in items:
        depth[org.code] = depth.get(org.parent, -1) + 1 if org.parent else 0
        out.append((org.code, org.name, depth[org.code]))
    return out


# ---- 矿井与计量点 ---------------------------------------------------------------------------


@router.get("/system/mines")
def mines_page(page: SystemPage, mine: MineParam = None) -> Response:
    mines = _mines(page)
    code = _chosen(mines, mine)
    return page.render(
        "mines/mines.html", mines=mines, mine=code, config=_config(page, code), units=_units(page)
    )


@router.post("/system/mines")
async def create_mine(page: SystemPage) -> Response:
    def action(session: Session, data: MineIn) -> None:
        service.create_mine(session, page.principal, data, page.state.settings.timezone, page.now())

    return await submit(page, MineIn, action, back="/system/mines", done=page._("矿井已增加"))


@router.post("/system/mines/{mine}/points")
async def create_point(page: SystemPage, mine: str) -> Response:
    def action(session: Session, data: PointIn) -> None:
        service.create_point(session, page.principal, mine, data, page.now())

    return await submit(
        page, PointIn, action, back=f"/system/mines?mine={mine}", done=page._("计量点已增加")
    )


# ---- 主站管理 ------------------------------------------------------------------------------


@router.get("/system/stations")
def stations_page(page: SystemPage) -> Response:
    return page.render("mines/stations.html", mines=_mines(page))


class StationForm(StationIn):
    mine: Code


@router.post("/system/stations")
async def register_station(page: SystemPage) -> Response:
    def action(session: Session, data: StationForm) -> None:
        station = StationIn(code=data.code, public_key=data.public_key)
        service.register_station(session, page.principal, data.mine, station, page.now())

    return await submit(
        page, StationForm, action, back="/system/stations", done=page._("主站已登记，公钥已保存")
    )


# ---- 产能与计划 -------------------------------------------------------------------------


def _production_page(page: Page, template: str, mine: str | None) -> Response:
    mines = _mines(page)
    code = _chosen(mines, mine)
    return page.render(
        template,
        mines=mines,
        mine=code,
        config=_config(page, code),
        requests=requests_of(page, code, "capacity", "plan"),
        statuses=STATUS_LABELS,
        back_page="capacity",
    )


@router.get("/production/capacity")
def capacity_page(page: ProductionPage, mine: MineParam = None) -> Response:
    return _production_page(page, "mines/capacity.html", mine)


@router.post("/production/{mine}/capacity")
async def set_capacity(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: LicensedCapacityIn) -> None:
        service.set_capacity(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        LicensedCapacityIn,
        action,
        back=f"/production/capacity?mine={mine}",
        done=page._("核定生产能力已保存"),
    )


@router.post("/production/{mine}/plans")
async def set_plan(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: MonthPlanIn) -> None:
        plan = PlanIn(month_t=data.month_t, day_t=data.day_t, hour_t=data.hour_t)
        service.set_plan(session, page.principal, mine, data.month, plan, page.now())

    return await submit(
        page,
        MonthPlanIn,
        action,
        back=f"/production/capacity?mine={mine}",
        done=page._("产量计划已保存"),
    )
