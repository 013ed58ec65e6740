"""The JSON routes of the routine checks and their board."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from coalwatch.routines import service
from coalwatch.routines.schemas import Board, RoutineIn, RoutineList, RoutineOut
from coalwatch.web.context import Ctx

router = APIRouter(tags=["routines"])


@router.post("/mines/{mine}/routines", status_code=201, summary="Record a routine check done")
def record(mine: str, data: RoutineIn, ctx: Ctx) -> RoutineOut:
    with ctx.session() as session:
        return service.record(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/routines", summary="The routine checks recorded, newest first")
def records(
    mine: str, ctx: Ctx, kind: Annotated[str | None, Query(max_length=32)] = None
) -> RoutineList:
    with ctx.session() as session:
        return service.records(session, ctx.principal(session), mine, kind)


@router.get("/routines/board", summary="What is due, overdue and done, per mine")
def board(ctx: Ctx, mine: Annotated[str | None, Query(max_length=64)] = None) -> Board:
    with ctx.session() as session:
        return service.board(session, ctx.principal(session), mine, ctx.now())
