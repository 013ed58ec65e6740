from __future__ import annotations

from fastapi import APIRouter

from coalwatch.faults import service
from coalwatch.faults.schemas import CloseIn, FaultIn, FaultList, FaultOut, ReportIn
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx

router = APIRouter(tags=["faults"])


@router.get("/faults", summary="Fault records in scope, newest first")
def list_faults(ctx: Ctx, mine: str | None = None, open: bool = False) -> FaultList:
    with ctx.session() as session:
        items = service.list_faults(session, ctx.principal(session), mine, open, ctx.now())
        return FaultList(items=items)


@router.post("/mines/{mine}/faults", status_code=201, summary="Record a fault by hand")
def record_fault(mine: str, data: FaultIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.record_fault(session, ctx.principal(session), mine, data, ctx.now())


@router.post("/faults/{fault_id}/report", summary="The fault was reported upward (上报)")
def report(fault_id: Id, data: ReportIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.report(session, ctx.principal(session), fault_id, data, ctx.now())


@router.post("/faults/{fault_id}/close", summary="Close a fault with its result (and reduction)")
def close(fault_id: Id, data: CloseIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.close(session, ctx.principal(session), fault_id, data, ctx.now())
