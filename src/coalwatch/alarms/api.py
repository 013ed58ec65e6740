from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from coalwatch.alarms import service
from coalwatch.alarms.schemas import AlarmList, AlarmOut, AlarmState, HandleIn
from coalwatch.web.context import Ctx

router = APIRouter(tags=["alarms"])


@router.get("/alarms", summary="Alarms in scope, newest first")
def list_alarms(
    ctx: Ctx,
    mine: str | None = None,
    type: str | None = None,
    state: AlarmState | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> AlarmList:
    with ctx.session() as session:
        items = service.list_alarms(
            session,
            ctx.principal(session),
            mine=mine,
            type_=type,
            state=state,
            start=start,
            end=end,
        )
        return AlarmList(items=items)


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge an alarm")
def acknowledge(alarm_id: int, ctx: Ctx) -> AlarmOut:
    with ctx.session() as session:
        return service.acknowledge(session, ctx.principal(session), alarm_id, ctx.now())


@router.post("/alarms/{alarm_id}/handle", summary="Record how an alarm was handled")
def handle(alarm_id: int, data: HandleIn, ctx: Ctx) -> AlarmOut:
    with ctx.session() as session:
        return service.handle(session, ctx.principal(session), alarm_id, data, ctx.now())
