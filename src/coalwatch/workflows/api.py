"""Approval workflows over the API: a mine submits (``production:write``), a supervising
unit above it approves or rejects (coefficients ``region:coefficient``, manual entries
``production:approve``; never one's own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from coalwatch.mines.schemas import LicensedCapacityIn, ManualProductionIn, MonthPlanIn
from coalwatch.permits.schemas import PermitIn
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx
from coalwatch.workflows import service
from coalwatch.workflows.schemas import (
    CoefficientApplicationIn,
    CoefficientApplicationList,
    CoefficientApplicationOut,
    ManualEntryList,
    ManualEntryOut,
    RejectIn,
    RequestKind,
    RequestList,
    RequestOut,
    Status,
)

router = APIRouter(tags=["approval workflows"])
MineCode = Annotated[str, Path(description="the mine's code", max_length=64)]
MineFilter = Annotated[str | None, Query(max_length=64, description="a mine's code")]
StatusFilter = Annotated[Status | None, Query(description="pending, approved or rejected")]
PageNo = Annotated[int, Query(ge=1, le=100_000)]
Size = Annotated[int, Query(ge=1, le=500)]


@router.post(
    "/mines/{mine}/coefficient-applications",
    status_code=201,
    summary="Apply for a deduction coefficient (pending until approved)",
)
def apply_coefficient(
    mine: MineCode, data: CoefficientApplicationIn, ctx: Ctx
) -> CoefficientApplicationOut:
    with ctx.session() as session:
        return service.apply_coefficient(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/coefficient-applications", summary="Coefficient applications in scope")
def list_coefficient_applications(
    ctx: Ctx,
    mine: MineFilter = None,
    status: StatusFilter = None,
    page: PageNo = 1,
    size: Size = 50,
) -> CoefficientApplicationList:
    with ctx.session() as session:
        items, total = service.coefficient_applications(
            session, ctx.principal(session), mine=mine, status=status, page=page, size=size
        )
        return CoefficientApplicationList(items=items, total=total)


@router.get("/coefficient-applications/{application}", summary="A coefficient application")
def get_coefficient_application(application: Id, ctx: Ctx) -> CoefficientApplicationOut:
    with ctx.session() as session:
        return service.coefficient_application(session, ctx.principal(session), application)


@router.post(
    "/coefficient-applications/{application}/approve",
    summary="Approve: the coefficient is in force from its start date",
)
def approve_coefficient_application(application: Id, ctx: Ctx) -> CoefficientApplicationOut:
    with ctx.session() as session:
        return service.approve_coefficient_application(
            session, ctx.principal(session), application, ctx.now()
        )


@router.post("/coefficient-applications/{application}/reject", summary="Reject, with the reason")
def reject_coefficient_application(
    application: Id, data: RejectIn, ctx: Ctx
) -> CoefficientApplicationOut:
    with ctx.session() as session:
        return service.reject_coefficient_application(
            session, ctx.principal(session), application, data, ctx.now()
        )


@router.post(
    "/mines/{mine}/manual-entries",
    status_code=201,
    summary="Submit manual production (counts once approved)",
)
def submit_manual_entry(mine: MineCode, data: ManualProductionIn, ctx: Ctx) -> ManualEntryOut:
    with ctx.session() as session:
        return service.submit_manual_entry(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/manual-entries", summary="Manual production entries in scope, with their status")
def list_manual_entries(
    ctx: Ctx,
    mine: MineFilter = None,
    status: StatusFilter = None,
    page: PageNo = 1,
    size: Size = 50,
) -> ManualEntryList:
    with ctx.session() as session:
        items, total = service.manual_entries(
            session, ctx.principal(session), mine=mine, status=status, page=page, size=size
        )
        return ManualEntryList(items=items, total=total)


@router.get("/manual-entries/{entry}", summary="A manual production entry")
def get_manual_entry(entry: Id, ctx: Ctx) -> ManualEntryOut:
    with ctx.session() as session:
        return service.manual_entry(session, ctx.principal(session), entry)


@router.post("/manual-entries/{entry}/approve", summary="Approve: the entry counts, marked manual")
def approve_manual_entry(entry: Id, ctx: Ctx) -> ManualEntryOut:
    with ctx.session() as session:
        return service.approve_manual_entry(session, ctx.principal(session), entry, ctx.now())


@router.post("/manual-entries/{entry}/reject", summary="Reject, with the reason")
def reject_manual_entry(entry: Id, data: RejectIn, ctx: Ctx) -> ManualEntryOut:
    with ctx.session() as session:
        return service.reject_manual_entry(session, ctx.principal(session), entry, data, ctx.now())


# ---- a mine's requests for what a supervising unit decides -----------------------------


@router.post(
    "/mines/{mine}/capacity-requests",
    status_code=201,
    summary="Request a change of the approved capacity, with its licence document",
)
def request_capacity(mine: MineCode, data: LicensedCapacityIn, ctx: Ctx) -> RequestOut:
    with ctx.session() as session:
        return service.submit_request(
            session, ctx.principal(session), mine, "capacity", data, ctx.now()
        )


@router.post(
    "/mines/{mine}/plan-requests",
    status_code=201,
    summary="Submit a month's production plan (the capacity counts until it is approved)",
)
def request_plan(mine: MineCode, data: MonthPlanIn, ctx: Ctx) -> RequestOut:
    with ctx.session() as session:
        return service.submit_request(
            session, ctx.principal(session), mine, "plan", data, ctx.now()
        )


@router.post(
    "/mines/{mine}/permit-requests",
    status_code=201,
    summary="Request a maintenance permit 开盖/调参 (in force once approved)",
)
def request_permit(mine: MineCode, data: PermitIn, ctx: Ctx) -> RequestOut:
    with ctx.session() as session:
        return service.submit_request(
            session, ctx.principal(session), mine, "permit", data, ctx.now()
        )


@router.get("/requests", summary="The mines' requests in scope (capacity, plan, permit)")
def list_requests(
    ctx: Ctx,
    mine: MineFilter = None,
    kind: Annotated[RequestKind | None, Query(description="capacity, plan or permit")] = None,
    status: StatusFilter = None,
    page: PageNo = 1,
    size: Size = 50,
) -> RequestList:
    with ctx.session() as session:
        items, total = service.mine_requests(
            session,
            ctx.principal(session),
            mine=mine,
            kinds=(kind,) if kind else (),
            status=status,
            page=page,
            size=size,
        )
        return RequestList(items=items, total=total)


@router.post(
    "/requests/{request}/approve",
    summary="Approve (the supervising unit above the mine): in force as its decision",
)
def approve_request(request: Id, ctx: Ctx) -> RequestOut:
    with ctx.session() as session:
        return service.approve_request(session, ctx.principal(session), request, ctx.now())


@router.post("/requests/{request}/reject", summary="Reject a request, with the reason")
def reject_request(request: Id, data: RejectIn, ctx: Ctx) -> RequestOut:
    with ctx.session() as session:
        return service.reject_request(session, ctx.principal(session), request, data, ctx.now())
