from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from coalwatch.faults import service
from coalwatch.faults.schemas import (
    CloseIn,
    FaultIn,
    FaultList,
    FaultOut,
    ReductionDecisionIn,
    ReportDecisionIn,
    ReportIn,
)
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx
from coalwatch.web.exports import csv_response
from coalwatch.web.formats import TableFormatQuery, table_content

router = APIRouter(tags=["faults"])


CSV_COLUMNS = tuple(FaultOut.model_fields)
CSV_EXAMPLE = (
    ",".join(CSV_COLUMNS) + "\r\n"
    "3,M1,,comm_interruption,主站 S1 通信中断,,2026-03-15T01:00:00+00:00,"
    "2026-03-15T01:40:00+00:00,token:ops,,,,,,,system,,,,,,,\r\n"
)


@router.get(
    "/faults",
    summary="Fault records in scope, newest first",
    description="With `format=csv`: one row per fault record, the columns of the JSON items.",
    response_model=FaultList,
    responses={200: table_content(None, CSV_EXAMPLE)},
)
def list_faults(
    ctx: Ctx, mine: str | None = None, open: bool = False, format: TableFormatQuery = "json"
) -> FaultList | Response:
    with ctx.session() as session:
        items = service.list_faults(session, ctx.principal(session), mine, open, ctx.now())
    if format == "csv":
        rows = [[getattr(item, column) for column in CSV_COLUMNS] for item in items]
        return csv_response("faults", CSV_COLUMNS, rows)
    return FaultList(items=items)


@router.post("/mines/{mine}/faults", status_code=201, summary="Record a fault by hand")
def record_fault(mine: str, data: FaultIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.record_fault(session, ctx.principal(session), mine, data, ctx.now())


@router.post(
    "/faults/{fault_id}/report",
    summary="Report the fault upward now (上报), through the system or as by telephone",
    description="The report time is the server's: a `reported_at` in the body is refused (422).",
)
def report(fault_id: Id, data: ReportIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.report(session, ctx.principal(session), fault_id, data, ctx.now())


@router.post("/faults/{fault_id}/close", summary="Close a fault with its result (and reduction)")
def close(fault_id: Id, data: CloseIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.close(session, ctx.principal(session), fault_id, data, ctx.now())


@router.post(
    "/faults/{fault_id}/report/confirm",
    summary="Confirm (or reject) a fault's telephone report (the supervising unit)",
    description="Needs `region:reduction` at a supervising unit above the mine (403 otherwise).",
)
def confirm_report(fault_id: Id, data: ReportDecisionIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.confirm_report(session, ctx.principal(session), fault_id, data, ctx.now())


@router.post(
    "/faults/{fault_id}/reduction",
    summary="Confirm or waive a fault's pending capacity reduction 核减/免减",
    description=(
        "Needs `region:reduction` at a supervising unit above the mine (403 otherwise); "
        "only a pending reduction is decided (409 otherwise)."
    ),
)
def decide_reduction(fault_id: Id, data: ReductionDecisionIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return service.decide_reduction(session, ctx.principal(session), fault_id, data, ctx.now())
