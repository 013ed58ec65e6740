"""Page of 系统设置: 单位管理 (the organisation tree)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.orgs import service
from coalwatch.orgs.schemas import OrgIn
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
SystemPage = Annotated[Page, Depends(need("system:view"))]


@router.get("/system/orgs")
def orgs_page(page: SystemPage) -> Response:
    with page.session() as session:
        items = service.list_orgs(session, page.principal)
    depth: dict[str, int] = {}
    rows = []
    for org in items:
        depth[org.code] = depth.get(org.parent, -1) + 1 if org.parent else 0
        rows.append((org, depth[org.code]))
    return page.render("orgs/orgs.html", rows=rows)


@router.post("/system/orgs")
async def create_org(page: SystemPage) -> Response:
    def action(session: Session, data: OrgIn) -> None:
        service.create_org(session, page.principal, data, page.now())

    return await submit(page, OrgIn, action, back="/system/orgs", done=page._("单位已增加"))
