from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from coalwatch.mines import service
from coalwatch.mines.schemas import (
    CapacityIn,
    CapacityOut,
    CoefficientIn,
    CoefficientOut,
    ManualProductionIn,
    ManualProductionOut,
    MineIn,
    MineList,
    MineOut,
    PlanIn,
    PlanOut,
    PointIn,
    PointOut,
    StationIn,
    StationOut,
)
from coalwatch.web.context import Ctx

router = APIRouter(tags=["mines"])
MineCode = Annotated[str, Path(description="the mine's code", max_length=64)]


@router.get("/mines", summary="The mines in scope, with their points and stations")
def list_mines(ctx: Ctx) -> MineList:
    with ctx.session() as session:
        return MineList(items=service.list_mines(session, ctx.principal(session), ctx.now()))


@router.post("/mines", status_code=201, summary="Create a mine (write token)")
def create_mine(data: MineIn, ctx: Ctx) -> MineOut:
    with ctx.session() as session:
        return service.create_mine(
            session, ctx.principal(session), data, ctx.settings.timezone, ctx.now()
        )


@router.put("/mines/{mine}/capacity", summary="Approved annual capacity from a date")
def set_capacity(mine: MineCode, data: CapacityIn, ctx: Ctx) -> CapacityOut:
    with ctx.session() as session:
        return service.set_capacity(session, ctx.principal(session), mine, data, ctx.now())


@router.put("/mines/{mine}/plans/{month}", summary="Production plan of a month (YYYY-MM)")
def set_plan(
    mine: MineCode,
    month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])],
    data: PlanIn,
    ctx: Ctx,
) -> PlanOut:
    with ctx.session() as session:
        return service.set_plan(session, ctx.principal(session), mine, month, data, ctx.now())


@router.post(
    "/mines/{mine}/coefficients", status_code=201, summary="An approved deduction coefficient"
)
def approve_coefficient(mine: MineCode, data: CoefficientIn, ctx: Ctx) -> CoefficientOut:
    with ctx.session() as session:
        return service.approve_coefficient(session, ctx.principal(session), mine, data, ctx.now())


@router.post("/mines/{mine}/points", status_code=201, summary="Add a metering point")
def create_point(mine: MineCode, data: PointIn, ctx: Ctx) -> PointOut:
    with ctx.session() as session:
        return service.create_point(session, ctx.principal(session), mine, data, ctx.now())


@router.post(
    "/mines/{mine}/stations", status_code=201, summary="Register a station and its public key"
)
def register_station(mine: MineCode, data: StationIn, ctx: Ctx) -> StationOut:
    with ctx.session() as session:
        return service.register_station(session, ctx.principal(session), mine, data, ctx.now())


@router.post(
    "/mines/{mine}/manual-production",
    status_code=201,
    summary="Production entered by hand during a metering fault (approved)",
)
def record_manual_production(
    mine: MineCode, data: ManualProductionIn, ctx: Ctx
) -> ManualProductionOut:
    with ctx.session() as session:
        return service.record_manual_production(
            session, ctx.principal(session), mine, data, ctx.now()
        )
