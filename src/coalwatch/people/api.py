"""The JSON routes of people, certificates, staffing rules and rosters."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from coalwatch.people import service
from coalwatch.people.schemas import (
    CertificateIn,
    DecisionIn,
    PersonIn,
    PersonList,
    PersonOut,
    RenewalIn,
    RosterEntryOut,
    RosterIn,
    RosterOut,
    SignAct,
    SignOnIn,
    StaffingIn,
    StaffingOut,
    SubstitutionIn,
)
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx

router = APIRouter(tags=["people"])
UnitQuery = Annotated[str | None, Query(max_length=64)]


@router.get("/people", summary="The certificate register: people of a unit or of the subtree")
def register(ctx: Ctx, unit: UnitQuery = None) -> PersonList:
    with ctx.session() as session:
        return PersonList(items=service.register(session, ctx.principal(session), unit, ctx.now()))


@router.post("/units/{unit}/people", status_code=201, summary="Register a person of a unit")
def add_person(unit: str, data: PersonIn, ctx: Ctx) -> PersonOut:
    with ctx.session() as session:
        return service.add_person(session, ctx.principal(session), unit, data, ctx.now())


@router.post(
    "/people/{person_id}/certificates", status_code=201, summary="Record a person's certificate"
)
def add_certificate(person_id: Id, data: CertificateIn, ctx: Ctx) -> PersonOut:
    with ctx.session() as session:
        return service.add_certificate(session, ctx.principal(session), person_id, data, ctx.now())


@router.post("/certificates/{certificate_id}/renewals", summary="Renew a certificate (延期)")
def renew(certificate_id: Id, data: RenewalIn, ctx: Ctx) -> PersonOut:
    with ctx.session() as session:
        return service.renew_certificate(
            session, ctx.principal(session), certificate_id, data, ctx.now()
        )


@router.put(
    "/certificates/{certificate_id}/scan",
    status_code=204,
    summary="Attach the scanned certificate (the body: PDF, JPEG or PNG)",
)
async def put_scan(certificate_id: Id, request: Request, ctx: Ctx) -> Response:
    body = await request.body()
    media_type = request.headers.get("content-type", "")
    with ctx.session() as session:
        service.set_scan(
            session, ctx.principal(session), certificate_id, body, media_type, None, ctx.now()
        )
    return Response(status_code=204)


@router.get("/certificates/{certificate_id}/scan", summary="The scanned certificate")
def get_scan(certificate_id: Id, ctx: Ctx) -> Response:
    with ctx.session() as session:
        data, media_type, _ = service.scan(session, ctx.principal(session), certificate_id)
    return Response(content=data, media_type=media_type)


@router.get("/units/{unit}/staffing", summary="A unit's minimum staff and arrival time")
def staffing(unit: str, ctx: Ctx) -> StaffingOut:
    with ctx.session() as session:
        return service.staffing(session, ctx.principal(session), unit)


@router.put("/units/{unit}/staffing", summary="Raise a unit's minimum staff; its arrival time")
def set_staffing(unit: str, data: StaffingIn, ctx: Ctx) -> StaffingOut:
    with ctx.session() as session:
        return service.set_staffing(session, ctx.principal(session), unit, data, ctx.now())


@router.get("/units/{unit}/roster", summary="The roster of the days, with staffing per shift")
def roster(
    unit: str,
    ctx: Ctx,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> RosterOut:
    with ctx.session() as session:
        return service.roster(session, ctx.principal(session), unit, first, last, ctx.now())


@router.post("/units/{unit}/roster", status_code=201, summary="Put a person on a shift")
def add_to_roster(unit: str, data: RosterIn, ctx: Ctx) -> RosterEntryOut:
    with ctx.session() as session:
        return service.add_to_roster(session, ctx.principal(session), unit, data, ctx.now())


@router.post(
    "/units/{unit}/substitutions", status_code=201, summary="Ask for a substitution (顶班)"
)
def substitute(unit: str, data: SubstitutionIn, ctx: Ctx) -> RosterEntryOut:
    with ctx.session() as session:
        return service.request_substitution(session, ctx.principal(session), unit, data, ctx.now())


@router.post("/roster/{entry_id}/decision", summary="The unit's leader decides a substitution")
def decide(entry_id: Id, data: DecisionIn, ctx: Ctx) -> RosterEntryOut:
    with ctx.session() as session:
        return service.decide_substitution(
            session, ctx.principal(session), entry_id, data, ctx.now()
        )


@router.post("/units/{unit}/sign-{act}", summary="Sign on (到岗) or off (离岗) a shift")
def sign(unit: str, act: SignAct, data: SignOnIn, ctx: Ctx) -> RosterEntryOut:
    with ctx.session() as session:
        return service.sign(session, ctx.principal(session), unit, act, data, ctx.now())
