"""The duty log, patrols and shift handovers over the API (``ledger:view`` / ``ledger:write``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from coalwatch.duty import service
from coalwatch.duty.schemas import (
    CarriedList,
    DutyEntryIn,
    DutyEntryList,
    DutyEntryOut,
    HandoverIn,
    HandoverList,
    HandoverOut,
    PatrolIn,
    PatrolList,
    PatrolOut,
    ShiftList,
    SignIn,
)
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx
from coalwatch.wire.types import Day

router = APIRouter(tags=["duty log and handover"])
MineCode = Annotated[str, Path(description="the mine's code", max_length=64)]
From = Annotated[Day, Query(alias="from", description="first local day")]
To = Annotated[Day, Query(alias="to", description="last local day (included)")]
PageNo = Annotated[int, Query(ge=1, le=100_000)]
Size = Annotated[int, Query(ge=1, le=500)]


@router.post("/mines/{mine}/duty-log", status_code=201, summary="Write in the duty log 运行日志")
def add_entry(mine: MineCode, data: DutyEntryIn, ctx: Ctx) -> DutyEntryOut:
    with ctx.session() as session:
        return service.add_entry(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/duty-log", summary="The duty log of local days, newest first")
def list_entries(
    mine: MineCode, ctx: Ctx, first: From, last: To, page: PageNo = 1, size: Size = 50
) -> DutyEntryList:
    with ctx.session() as session:
        items, total = service.entries(
            session, ctx.principal(session), mine, first, last, page=page, size=size
        )
        return DutyEntryList(items=items, total=total)


@router.post("/mines/{mine}/patrols", status_code=201, summary="Record a patrol 巡检")
def add_patrol(mine: MineCode, data: PatrolIn, ctx: Ctx) -> PatrolOut:
    with ctx.session() as session:
        return service.add_patrol(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/patrols", summary="Patrols of local days, newest first")
def list_patrols(
    mine: MineCode, ctx: Ctx, first: From, last: To, page: PageNo = 1, size: Size = 50
) -> PatrolList:
    with ctx.session() as session:
        items, total = service.patrols(
            session, ctx.principal(session), mine, first, last, page=page, size=size
        )
        return PatrolList(items=items, total=total)


@router.get(
    "/mines/{mine}/shifts",
    summary="Each shift of local days: entries, patrols (flagged below two), handover",
)
def shift_overview(mine: MineCode, ctx: Ctx, first: From, last: To) -> ShiftList:
    with ctx.session() as session:
        return service.shift_overview(session, ctx.principal(session), mine, first, last, ctx.now())


@router.post(
    "/mines/{mine}/handovers",
    status_code=201,
    summary="Hand over a shift 交接班 (signed by the outgoing operator)",
)
def create_handover(mine: MineCode, data: HandoverIn, ctx: Ctx) -> HandoverOut:
    with ctx.session() as session:
        return service.create_handover(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/handovers", summary="Handovers of local days, newest first")
def list_handovers(
    mine: MineCode, ctx: Ctx, first: From, last: To, page: PageNo = 1, size: Size = 50
) -> HandoverList:
    with ctx.session() as session:
        items, total = service.handovers(
            session, ctx.principal(session), mine, first, last, page=page, size=size
        )
        return HandoverList(items=items, total=total)


@router.get(
    "/mines/{mine}/handovers/carried",
    summary="The pending issues the handover of the current shift carries in",
)
def carried_issues(mine: MineCode, ctx: Ctx) -> CarriedList:
    with ctx.session() as session:
        return CarriedList(items=service.carried(session, ctx.principal(session), mine, ctx.now()))


@router.get("/handovers/{handover}", summary="A shift handover")
def get_handover(handover: Id, ctx: Ctx) -> HandoverOut:
    with ctx.session() as session:
        return service.handover(session, ctx.principal(session), handover)


@router.post("/handovers/{handover}/sign", summary="The incoming operator signs")
def sign_handover(handover: Id, data: SignIn, ctx: Ctx) -> HandoverOut:
    with ctx.session() as session:
        return service.sign_handover(session, ctx.principal(session), handover, data, ctx.now())
