"""Pages of 生产管理: 停产报备 (shutdown declarations) and 开盖/调参审批 (maintenance permits)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from coalwatch.mines import service as mines
from coalwatch.permits import service
from coalwatch.permits.schemas import PermitIn, ShutdownIn
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need
from coalwatch.workflows.views import STATUS_LABELS, requests_of

router = APIRouter(include_in_schema=False)
ProductionPage = Annotated[Page, Depends(need("production:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]


def _page(page: Page, template: str, mine: str | None) -> Response:
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        code = mine or (items[0].code if items else None)
        shutdowns = service.list_shutdowns(session, page.principal, code) if code else []
        permits = service.list_permits(session, page.principal, code) if code else []
    current = next((m for m in items if m.code == code), None)
    return page.render(
        template,
        mines=items,
        mine=code,
        current=current,
        shutdowns=shutdowns,
        permits=permits,
        requests=requests_of(page, code, "permit"),
        statuses=STATUS_LABELS,
        back_page="permits",
    )


@router.get("/production/shutdowns")
def shutdowns(page: ProductionPage, mine: MineParam = None) -> Response:
    return _page(page, "permits/shutdowns.html", mine)


@router.post("/production/{mine}/shutdowns")
async def declare_shutdown(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: ShutdownIn) -> None:
        service.declare_shutdown(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        ShutdownIn,
        action,
        back=f"/production/shutdowns?mine={mine}",
        done=page._("停产报备已登记"),
        local_times=("start", "end"),
    )


class _Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")


@router.post("/production/{mine}/shutdowns/{shutdown_id}/acknowledge")
async def acknowledge_shutdown(page: ProductionPage, mine: str, shutdown_id: int) -> Response:
    def action(session: Session, _: _Confirm) -> None:
        service.acknowledge_shutdown(session, page.principal, mine, shutdown_id, page.now())

    return await submit(
        page,
        _Confirm,
        action,
        back=f"/production/shutdowns?mine={mine}",
        done=page._("停产报备已确认"),
    )


@router.get("/production/permits")
def permits(page: ProductionPage, mine: MineParam = None) -> Response:
    return _page(page, "permits/permits.html", mine)


@router.post("/production/{mine}/permits")
async def approve_permit(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: PermitIn) -> None:
        service.approve_permit(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        PermitIn,
        action,
        back=f"/production/permits?mine={mine}",
        done=page._("开盖/调参已审批"),
        local_times=("start", "end"),
    )
