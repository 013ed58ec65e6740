from __future__ import annotations

from fastapi import APIRouter

from coalwatch.orgs import service
from coalwatch.orgs.schemas import OrgIn, OrgList, OrgOut
from coalwatch.web.context import Ctx

router = APIRouter(tags=["orgs"])


@router.post("/orgs", status_code=201, summary="Create an org (write token)")
def create_org(data: OrgIn, ctx: Ctx) -> OrgOut:
    with ctx.session() as session:
        return service.create_org(session, ctx.principal(session), data, ctx.now())


@router.get("/orgs", summary="The orgs in the token's scope")
def list_orgs(ctx: Ctx) -> OrgList:
    with ctx.session() as session:
        return OrgList(items=service.list_orgs(session, ctx.principal(session)))
