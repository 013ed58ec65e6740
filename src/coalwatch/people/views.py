"""Pages of 台账管理: 人员与证书 (people and certificates), 排班 (the roster), 当班人员 (the
day's shifts and who is on)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from coalwatch.domain.people import CERTIFICATE_KINDS, POSITIONS, STATE_LABELS
from coalwatch.errors import N_
from coalwatch.mines import service as mines
from coalwatch.orgs import service as orgs
from coalwatch.people import service
from coalwatch.people.schemas import (
    CertificateIn,
    CertificateOut,
    DecisionIn,
    PersonIn,
    RenewalIn,
    RosterIn,
    SignOnIn,
    StaffingIn,
    SubstitutionIn,
)
from coalwatch.web.exports import Cell
from coalwatch.web.forms import submit
from coalwatch.web.listing import Format, export
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]
UnitParam = Annotated[str | None, Query(max_length=64)]
FromParam = Annotated[date | None, Query(alias="from")]
ROSTER_DAYS = 7
ENTRY_LABELS = {
    "rostered": N_("在班"),
    "requested": N_("顶班待批"),
    "rejected": N_("顶班未批准"),
    "replaced": N_("已被顶班"),
}


class UnitChoice(BaseModel):
    code: str
    name: str


def _units(page: Page) -> list[UnitChoice]:
    """The units the user sees: the orgs (supervising centers and companies), then mines."""
    with page.session() as session:
        org_items = orgs.list_orgs(session, page.principal)
        mine_items = mines.list_mines(session, page.principal, page.now())
    return [UnitChoice(code=o.code, name=o.name) for o in org_items] + [
        UnitChoice(code=m.code, name=m.name) for m in mine_items
    ]


def _chosen(units: list[UnitChoice], unit: str | None) -> str | None:
    codes = [u.code for u in units]
    return unit if unit in codes else None


# ---- 人员与证书 -------------------------------------------------------------------------


@router.get("/people")
def people_page(page: LedgerPage, unit: UnitParam = None, format: Format = None) -> Response:
    units = _units(page)
    code = _chosen(units, unit)
    with page.session() as session:
        items = service.register(session, page.principal, code, page.now())
    _ = page._
    if format:
        header = [
            _("单位"), _("姓名"), _("身份证号"), _("岗位"), _("证书种类"), _("证书编号"),
            _("发证机关"), _("发证日期"), _("有效期至"), _("状态"),
        ]  # fmt: skip
        rows: list[list[Cell]] = []
        for p in items:
            certificates: list[CertificateOut | None] = [*p.certificates] or [None]
            for c in certificates:
                rows.append(
                    [
                        p.unit_name,
                        p.name,
                        p.id_number,
                        page.label(POSITIONS[p.position]),
                        page.label(CERTIFICATE_KINDS[c.kind]) if c else None,
                        c.number if c else None,
                        c.issued_by if c else None,
                        c.issued_on if c else None,
                        c.valid_through if c else None,
                        page.label(STATE_LABELS[c.state if c else p.state]),
                    ]
                )
        return export(page, _("上岗资格证书登记"), header, rows, format)
    base = "/people?" + urlencode({"unit": code or ""}) + "&"
    return page.render(
        "people/people.html",
        units=units,
        unit=code,
        items=items,
        positions=POSITIONS,
        kinds=CERTIFICATE_KINDS,
        states=STATE_LABELS,
        base_url=base,
        expiring=sum(1 for p in items if p.state == "expiring"),
        invalid=sum(1 for p in items if p.state in ("expired", "missing")),
    )


@router.post("/people/{unit}/add")
async def add_person(page: LedgerPage, unit: str) -> Response:
    def action(session: Session, data: PersonIn) -> None:
        service.add_person(session, page.principal, unit, data, page.now())

    return await submit(
        page, PersonIn, action, back=f"/people?unit={unit}", done=page._("人员已登记")
    )


@router.post("/people/{unit}/{person}/certificates")
async def add_certificate(page: LedgerPage, unit: str, person: int) -> Response:
    def action(session: Session, data: CertificateIn) -> None:
        service.add_certificate(session, page.principal, person, data, page.now())

    return await submit(
        page, CertificateIn, action, back=f"/people?unit={unit}", done=page._("证书已登记")
    )


@router.post("/people/{unit}/certificates/{certificate}/renew")
async def renew(page: LedgerPage, unit: str, certificate: int) -> Response:
    def action(session: Session, data: RenewalIn) -> None:
        service.renew_certificate(session, page.principal, certificate, data, page.now())

    return await submit(
        page, RenewalIn, action, back=f"/people?unit={unit}", done=page._("证书已延期")
    )


@router.get("/people/certificates/{certificate}/scan")
def scan(page: LedgerPage, certificate: int) -> Response:
    with page.session() as session:
        data, media_type, _name = service.scan(session, page.principal, certificate)
    return Response(content=data, media_type=media_type)


# ---- 排班 与 当班人员 --------------------------------------------------------------------


def _roster_context(page: Page, unit: str | None, first: date, last: date) -> dict[str, Any]:
    units = _units(page)
    code = _chosen(units, unit) or (units[0].code if units else None)
    roster = None
    people = []
    me = None
    if code:
        with page.session() as session:
            roster = service.roster(session, page.principal, code, first, last, page.now())
            people = service.register(session, page.principal, code, page.now())
            me = service.me(session, page.principal, code)
    return {
        "units": units,
        "unit": code,
        "roster": roster,
        "people": people,
        "me": me,
        "first": first,
        "last": last,
        "entry_labels": ENTRY_LABELS,
        "states": STATE_LABELS,
    }


def _today(page: Page) -> date:
    return page.now().astimezone(page.state.settings.tz).date()


@router.get("/people/roster")
def roster_page(
    page: LedgerPage, unit: UnitParam = None, first: FromParam = None, format: Format = None
) -> Response:
    first = first or _today(page)
    last = first + timedelta(days=ROSTER_DAYS - 1)
    context = _roster_context(page, unit, first, last)
    roster = context["roster"]
    if format:
        _ = page._
        header = [
            _("日期"), _("班次"), _("姓名"), _("状态"), _("顶替"), _("到岗"), _("离岗"),
            _("迟到"), _("证书"),
        ]  # fmt: skip
        rows: list[list[Cell]] = []
        if roster is not None:
            for s in roster.shifts:
                for e in s.entries:
                    rows.append(
                        [
                            s.day,
                            s.shift,
                            e.person_name,
                            page.label(ENTRY_LABELS[e.status]),
                            e.replaces_name,
                            e.signed_on_at.astimezone(page.state.settings.tz)
                            if e.signed_on_at
                            else None,
                            e.signed_off_at.astimezone(page.state.settings.tz)
                            if e.signed_off_at
                            else None,
                            _("是") if e.late else "",
                            page.label(STATE_LABELS[e.certificate]),
                        ]
                    )
        return export(page, _("排班表"), header, rows, format)
    base = "/people/roster?" + urlencode({"unit": context["unit"] or "", "from": first}) + "&"
    return page.render("people/roster.html", base_url=base, **context)


@router.get("/people/today")
def today_page(page: LedgerPage, unit: UnitParam = None) -> Response:
    today = _today(page)
    context = _roster_context(page, unit, today - timedelta(days=1), today)
    return page.render("people/today.html", today=today, **context)


@router.post("/people/{unit}/roster")
async def add_to_roster(page: LedgerPage, unit: str) -> Response:
    def action(session: Session, data: RosterIn) -> None:
        service.add_to_roster(session, page.principal, unit, data, page.now())

    return await submit(
        page, RosterIn, action, back=f"/people/roster?unit={unit}", done=page._("已排班")
    )


@router.post("/people/{unit}/substitutions")
async def substitute(page: LedgerPage, unit: str) -> Response:
    def action(session: Session, data: SubstitutionIn) -> None:
        service.request_substitution(session, page.principal, unit, data, page.now())

    return await submit(
        page,
        SubstitutionIn,
        action,
        back=f"/people/roster?unit={unit}",
        done=page._("顶班申请已提交，待单位负责人批准"),
    )


@router.post("/people/{unit}/roster/{entry}/decision")
async def decide(page: LedgerPage, unit: str, entry: int) -> Response:
    def action(session: Session, data: DecisionIn) -> None:
        service.decide_substitution(session, page.principal, entry, data, page.now())

    return await submit(
        page, DecisionIn, action, back=f"/people/roster?unit={unit}", done=page._("已审批")
    )


@router.post("/people/{unit}/sign-{act}")
async def sign(page: LedgerPage, unit: str, act: str) -> Response:
    if act not in ("on", "off"):
        return page.redirect(f"/people/today?unit={unit}")

    def action(session: Session, data: SignOnIn) -> None:
        service.sign(session, page.principal, unit, act, data, page.now())

    return await submit(
        page,
        SignOnIn,
        action,
        back=f"/people/today?unit={unit}",
        done=page._("已到岗") if act == "on" else page._("已离岗"),
    )


@router.post("/people/{unit}/staffing")
async def set_staffing(page: LedgerPage, unit: str) -> Response:
    def action(session: Session, data: StaffingIn) -> None:
        service.set_staffing(session, page.principal, unit, data, page.now())

    return await submit(
        page, StaffingIn, action, back=f"/people/roster?unit={unit}", done=page._("值班规定已保存")
    )
