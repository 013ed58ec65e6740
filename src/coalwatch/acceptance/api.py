from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from coalwatch.acceptance import service
from coalwatch.acceptance.schemas import AcceptanceList, AcceptanceOut, DecisionIn, DecisionOut
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx

router = APIRouter(tags=["acceptance"])


@router.get("/acceptance", summary="The acceptance state (验收) of every mine in scope")
def board(ctx: Ctx, org: Annotated[str | None, Query(max_length=64)] = None) -> AcceptanceList:
    with ctx.session() as session:
        return AcceptanceList(items=service.board(session, ctx.principal(session), org, ctx.now()))


@router.get("/mines/{mine}/acceptance", summary="A mine's acceptance state and its decisions")
def acceptance(mine: str, ctx: Ctx) -> AcceptanceOut:
    with ctx.session() as session:
        return service.acceptance_of(session, ctx.principal(session), mine, ctx.now())


@router.post(
    "/mines/{mine}/acceptance",
    status_code=201,
    summary="Accept, re-accept, inspect (年检) or suspend a mine's system (supervising unit)",
)
def decide(mine: str, data: DecisionIn, ctx: Ctx) -> AcceptanceOut:
    with ctx.session() as session:
        return service.decide(session, ctx.principal(session), mine, data, ctx.now())


@router.put(
    "/acceptance/{decision_id}/record",
    summary="Attach the acceptance record (the body: PDF, JPEG or PNG)",
)
async def put_record(decision_id: Id, request: Request, ctx: Ctx) -> DecisionOut:
    body = await request.body()
    media_type = request.headers.get("content-type", "")
    with ctx.session() as session:
        return service.set_record(
            session, ctx.principal(session), decision_id, body, media_type, None, ctx.now()
        )


@router.get("/acceptance/{decision_id}/record", summary="The acceptance record's file")
def get_record(decision_id: Id, ctx: Ctx) -> Response:
    with ctx.session() as session:
        data, media_type, _ = service.record_file(session, ctx.principal(session), decision_id)
    return Response(content=data, media_type=media_type)
