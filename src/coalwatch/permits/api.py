from __future__ import annotations

from fastapi import APIRouter

from coalwatch.permits import service
from coalwatch.permits.schemas import (
    CalibrationIn,
    CalibrationOut,
    PermitIn,
    PermitList,
    PermitOut,
    ResumeIn,
    ShutdownIn,
    ShutdownList,
    ShutdownOut,
    ShutdownReportIn,
)
from coalwatch.web.context import Ctx

router = APIRouter(tags=["permits and shutdowns"])


@router.post("/mines/{mine}/permits", status_code=201, summary="An approved maintenance permit")
def approve_permit(mine: str, data: PermitIn, ctx: Ctx) -> PermitOut:
    with ctx.session() as session:
        return service.approve_permit(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/permits", summary="A mine's maintenance permits")
def list_permits(mine: str, ctx: Ctx) -> PermitList:
    with ctx.session() as session:
        return PermitList(items=service.list_permits(session, ctx.principal(session), mine))


@router.post("/mines/{mine}/shutdowns", status_code=201, summary="Declare a shutdown (停产报备)")
def declare_shutdown(mine: str, data: ShutdownIn, ctx: Ctx) -> ShutdownOut:
    with ctx.session() as session:
        return service.declare_shutdown(session, ctx.principal(session), mine, data, ctx.now())


@router.post(
    "/mines/{mine}/shutdowns/{shutdown_id}/acknowledge",
    summary="Acknowledge a shutdown declaration (停产确认, a supervising unit's act)",
)
def acknowledge_shutdown(mine: str, shutdown_id: int, ctx: Ctx) -> ShutdownOut:
    with ctx.session() as session:
        return service.acknowledge_shutdown(
            session, ctx.principal(session), mine, shutdown_id, ctx.now()
        )


@router.post(
    "/mines/{mine}/shutdowns/{shutdown_id}/report",
    summary="File a declaration's written report (书面报告, a document of the mine's archive)",
)
def file_shutdown_report(
    mine: str, shutdown_id: int, data: ShutdownReportIn, ctx: Ctx
) -> ShutdownOut:
    with ctx.session() as session:
        return service.file_shutdown_report(
            session, ctx.principal(session), mine, shutdown_id, data, ctx.now()
        )


@router.post(
    "/mines/{mine}/shutdowns/{shutdown_id}/resume",
    summary="Ask to resume production after a stop (复产申请)",
)
def request_resumption(mine: str, shutdown_id: int, data: ResumeIn, ctx: Ctx) -> ShutdownOut:
    with ctx.session() as session:
        return service.request_resumption(
            session, ctx.principal(session), mine, shutdown_id, data, ctx.now()
        )


@router.post(
    "/mines/{mine}/shutdowns/{shutdown_id}/resumption/acknowledge",
    summary="Acknowledge a resumption (复产确认, a supervising unit's act)",
)
def acknowledge_resumption(mine: str, shutdown_id: int, ctx: Ctx) -> ShutdownOut:
    with ctx.session() as session:
        return service.acknowledge_resumption(
            session, ctx.principal(session), mine, shutdown_id, ctx.now()
        )


@router.get("/mines/{mine}/shutdowns", summary="A mine's shutdown declarations")
def list_shutdowns(mine: str, ctx: Ctx) -> ShutdownList:
    with ctx.session() as session:
        return ShutdownList(items=service.list_shutdowns(session, ctx.principal(session), mine))


@router.post("/mines/{mine}/calibrations", status_code=201, summary="Record a belt calibration")
def record_calibration(mine: str, data: CalibrationIn, ctx: Ctx) -> CalibrationOut:
    with ctx.session() as session:
        return service.record_calibration(session, ctx.principal(session), mine, data, ctx.now())
