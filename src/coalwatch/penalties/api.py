from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from coalwatch.adapters.documents import PDF
from coalwatch.penalties import documents, service
from coalwatch.penalties.schemas import (
    EvidenceIn,
    ExecutionIn,
    OffenceCode,
    PenaltyIn,
    PenaltyList,
    PenaltyOut,
    PenaltyReport,
)
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx
from coalwatch.web.exports import file_response

router = APIRouter(tags=["penalties"])
CodeParam = Annotated[str | None, Query(max_length=64)]
Start = Annotated[date | None, Query(alias="from")]
End = Annotated[date | None, Query(alias="to")]


@router.post("/penalties", status_code=201, summary="Record a penalty decision (处罚决定)")
def record(data: PenaltyIn, ctx: Ctx) -> PenaltyOut:
    with ctx.session() as session:
        return service.record_penalty(session, ctx.principal(session), data, ctx.now())


@router.get("/penalties", summary="Penalty decisions in scope, by decision day (from, to included)")
def list_penalties(
    ctx: Ctx,
    org: CodeParam = None,
    mine: CodeParam = None,
    start: Start = None,
    end: End = None,
    offence: OffenceCode | None = None,
    status: Annotated[str | None, Query(pattern="^(decided|executed)$")] = None,
) -> PenaltyList:
    with ctx.session() as session:
        return PenaltyList(
            items=service.list_penalties(
                session, ctx.principal(session), org, mine, start, end, offence, status
            )
        )


@router.get("/penalties/report", summary="Penalties per mine over a period (from, to included)")
def report(
    ctx: Ctx,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    org: CodeParam = None,
) -> PenaltyReport:
    with ctx.session() as session:
        return service.report(session, ctx.principal(session), org, start, end)


@router.get("/penalties/{penalty_id}", summary="A penalty decision with its evidence")
def penalty(penalty_id: Id, ctx: Ctx) -> PenaltyOut:
    with ctx.session() as session:
        return service.penalty(session, ctx.principal(session), penalty_id)


@router.get("/penalties/{penalty_id}/pdf", summary="The penalty decision as a printable PDF")
def pdf(penalty_id: Id, ctx: Ctx) -> Response:
    with ctx.session() as session:
        found = service.penalty(session, ctx.principal(session), penalty_id)
    now = ctx.now().astimezone(ctx.settings.tz)
    return file_response(f"penalty-{found.id}.pdf", documents.decision_pdf(found, now), PDF)


@router.post("/penalties/{penalty_id}/evidence", summary="Link an alarm, fault or record")
def add_evidence(penalty_id: Id, data: EvidenceIn, ctx: Ctx) -> PenaltyOut:
    with ctx.session() as session:
        return service.add_evidence(session, ctx.principal(session), penalty_id, data, ctx.now())


@router.post(
    "/penalties/{penalty_id}/attachments",
    summary="Attach a picture or document (the body: PDF, JPEG or PNG)",
)
async def attach(
    penalty_id: Id,
    request: Request,
    ctx: Ctx,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> PenaltyOut:
    body = await request.body()
    media_type = request.headers.get("content-type", "")
    with ctx.session() as session:
        return service.attach(
            session, ctx.principal(session), penalty_id, body, media_type, name, ctx.now()
        )


@router.get("/penalties/{penalty_id}/attachments/{evidence_id}", summary="An attached file")
def attachment(penalty_id: Id, evidence_id: Id, ctx: Ctx) -> Response:
    with ctx.session() as session:
        data, media_type, _ = service.attachment(
            session, ctx.principal(session), penalty_id, evidence_id
        )
    return Response(content=data, media_type=media_type)


@router.post(
    "/penalties/{penalty_id}/execution", summary="Record the fines paid, orders carried out"
)
def execute(penalty_id: Id, data: ExecutionIn, ctx: Ctx) -> PenaltyOut:
    with ctx.session() as session:
        return service.execute(session, ctx.principal(session), penalty_id, data, ctx.now())
