from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from coalwatch.schemas import Id
from coalwatch.suspects import service
from coalwatch.suspects.schemas import ConfirmIn, RejectIn, SuspectList, SuspectOut
from coalwatch.web.context import Ctx

router = APIRouter(tags=["suspect increments"])
StatusParam = Annotated[Literal["held", "confirmed", "rejected"] | None, Query()]


@router.get("/mines/{mine}/suspects", summary="A mine's suspect increments (可疑增量)")
def list_suspects(mine: str, ctx: Ctx, status: StatusParam = None) -> SuspectList:
    with ctx.session() as session:
        return SuspectList(
            items=service.list_suspects(session, ctx.principal(session), mine, status)
        )


@router.post("/suspects/{suspect_id}/confirm", summary="Confirm a suspect increment: it counts")
def confirm(suspect_id: Id, data: ConfirmIn, ctx: Ctx) -> SuspectOut:
    with ctx.session() as session:
        return service.confirm(session, ctx.principal(session), suspect_id, data, ctx.now())


@router.post("/suspects/{suspect_id}/reject", summary="Reject a suspect increment, with a reason")
def reject(suspect_id: Id, data: RejectIn, ctx: Ctx) -> SuspectOut:
    with ctx.session() as session:
        return service.reject(session, ctx.principal(session), suspect_id, data, ctx.now())
