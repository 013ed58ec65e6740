"""区域监管 · 违法处罚: penalty decisions in scope with the report per mine (CSV/XLSX),
a decision's evidence and execution, its printable PDF, and the supervising unit's forms."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.adapters.documents import PDF
from coalwatch.domain import penalties as rules
from coalwatch.errors import Invalid
from coalwatch.orgs import authority
from coalwatch.orgs import service as orgs
from coalwatch.penalties import documents, service
from coalwatch.penalties.schemas import EvidenceIn, ExecutionIn, PenaltyIn
from coalwatch.schemas import Id
from coalwatch.storage.models import Org
from coalwatch.web.exports import Cell, file_response
from coalwatch.web.forms import submit
from coalwatch.web.listing import Format, export
from coalwatch.web.pages import Page, Uploaded, need, store_upload

router = APIRouter(include_in_schema=False)
RegionPage = Annotated[Page, Depends(need("region:view"))]
Code = Annotated[str | None, Query(max_length=64)]
Start = Annotated[date | None, Query(alias="from")]
End = Annotated[date | None, Query(alias="to")]
Table = Annotated[str, Query(pattern="^(list|mines)$")]


def _decides_somewhere(page: Page) -> bool:
    """The form to record shows for a supervising unit's user holding the decision."""
    with page.session() as session:
        unit = orgs.unit_of(session, page.principal)
    return page.principal.has(service.DECIDE) and authority.is_supervising(unit)


@router.get("/region/penalties")
def penalties(
    page: RegionPage,
    org: Code = None,
    mine: Code = None,
    start: Start = None,
    end: End = None,
    format: Format = None,
    table: Table = "list",
) -> Response:
    """违法处罚: the decisions of the period and the sums per mine."""
    today = page.now().astimezone(page.state.settings.tz).date()
    first, last = start or date(today.year, 1, 1), end or today
    if last < first:
        raise Invalid(page._("结束日期不能早于开始日期"))
    with page.session() as session:
        units = orgs.unit_tree(session, page.principal)
        items = service.list_penalties(session, page.principal, org or None, mine, first, last)
        summary = service.report(session, page.principal, org or None, first, last)
    if format:
        return _export(page, format, table, items, summary, first, last)
    query = {
        "org": org or "",
        "mine": mine or "",
        "from": first.isoformat(),
        "to": last.isoformat(),
    }
    return page.render(
        "penalties/penalties.html",
        items=items,
        summary=summary,
        units=units,
        org=org or "",
        mine=mine or "",
        first=first,
        last=last,
        query=urlencode(query),
        offences=rules.OFFENCES,
        manners=rules.MANNERS,
        statuses=rules.STATUS_LABELS,
        decides=_decides_somewhere(page),
        today=today,
    )


def _export(
    page: Page, format: str, table: str, items: Any, summary: Any, first: date, last: date
) -> Response:
    _ = page._
    if table == "mines":
        header = [
            _("矿井"),
            _("编码"),
            _("件数"),
            _("情节严重"),
            _("已执行"),
            _("企业罚款 (元)"),
            _("主要负责人罚款 (元)"),
            _("直接责任人罚款 (元)"),
            _("罚款合计 (元)"),
            _("已缴 (元)"),
            _("未缴 (元)"),
        ]
        rows: list[list[Cell]] = [
            [
                page.label(line.name) if line is summary.total else line.name,
                line.mine,
                line.count,
                line.serious,
                line.executed,
                line.enterprise,
                line.principal,
                line.responsible,
                line.total,
                line.paid,
                line.unpaid,
            ]
            for line in [*summary.mines, summary.total]
        ]
        return export(page, f"{_('违法处罚')}-{_('按矿井')}-{first}-{last}", header, rows, format)
    header = [
        _("文号"),
        _("矿井"),
        _("违法行为"),
        _("依据"),
        _("发现日期"),
        _("决定日期"),
        _("情节严重"),
        _("企业罚款 (元)"),
        _("主要负责人罚款 (元)"),
        _("直接责任人罚款 (元)"),
        _("停产整顿"),
        _("暂扣许可证"),
        _("状态"),
        _("缴款日期"),
        _("执行日期"),
        _("决定单位"),
    ]
    yes, no = _("是"), _("否")
    rows = [
        [
            p.number,
            p.mine,
            page.label(p.offence_label),
            p.article,
            p.found_on,
            p.decided_on,
            yes if p.serious else no,
            p.enterprise_fine,
            p.principal_fine,
            p.responsible_fine,
            yes if p.stop_for_rectification else no,
            yes if p.licence_held else no,
            page.label(rules.STATUS_LABELS[p.status]),
            p.paid_on,
            p.carried_out_on,
            p.unit_name,
        ]
        for p in items
    ]
    return export(page, f"{_('违法处罚')}-{first}-{last}", header, rows, format)


@router.post("/region/penalties")
async def record(page: RegionPage) -> Response:
    def action(session: Session, data: PenaltyIn) -> None:
        service.record_penalty(session, page.principal, data, page.now())

    return await submit(
        page, PenaltyIn, action, back="/region/penalties", done=page._("处罚决定已记录")
    )


@router.get("/region/penalties/{penalty_id}")
def detail(page: RegionPage, penalty_id: Id) -> Response:
    with page.session() as session:
        found = service.penalty(session, page.principal, penalty_id)
        org = session.get_one(Org, orgs.visible_org(session, page.principal, found.org).id)
        decides = authority.may_decide(session, page.principal, service.DECIDE, org)
    return page.render(
        "penalties/penalty.html",
        p=found,
        decides=decides,
        statuses=rules.STATUS_LABELS,
        evidence_labels=rules.EVIDENCE_LABELS,
        ranges=rules.PARTY_RANGES,
        today=page.now().astimezone(page.state.settings.tz).date(),
    )


@router.get("/region/penalties/{penalty_id}/pdf")
def pdf(page: RegionPage, penalty_id: Id) -> Response:
    """The printable decision (the same file as the API's)."""
    with page.session() as session:
        found = service.penalty(session, page.principal, penalty_id)
    now = page.now().astimezone(page.state.settings.tz)
    return file_response(f"penalty-{found.id}.pdf", documents.decision_pdf(found, now), PDF)


@router.post("/region/penalties/{penalty_id}/evidence")
async def add_evidence(page: RegionPage, penalty_id: Id) -> Response:
    def action(session: Session, data: EvidenceIn) -> None:
        service.add_evidence(session, page.principal, penalty_id, data, page.now())

    return await submit(
        page,
        EvidenceIn,
        action,
        back=f"/region/penalties/{penalty_id}",
        done=page._("证据已添加"),
    )


@router.post("/region/penalties/{penalty_id}/attachments")
async def attach(page: RegionPage, penalty_id: Id) -> Response:
    page.principal.require(service.DECIDE)

    def store(session: Session, upload: Uploaded) -> None:
        service.attach(
            session,
            page.principal,
            penalty_id,
            upload.data,
            upload.content_type,
            upload.name,
            page.now(),
        )

    return await store_upload(
        page, store, back=f"/region/penalties/{penalty_id}", done=page._("附件已保存")
    )


@router.get("/region/penalties/{penalty_id}/attachments/{evidence_id}")
def attachment(page: RegionPage, penalty_id: Id, evidence_id: Id) -> Response:
    with page.session() as session:
        data, media_type, name = service.attachment(
            session, page.principal, penalty_id, evidence_id
        )
    return file_response(name, data, media_type)


@router.post("/region/penalties/{penalty_id}/execution")
async def execute(page: RegionPage, penalty_id: Id) -> Response:
    def action(session: Session, data: ExecutionIn) -> None:
        service.execute(session, page.principal, penalty_id, data, page.now())

    return await submit(
        page,
        ExecutionIn,
        action,
        back=f"/region/penalties/{penalty_id}",
        done=page._("执行情况已记录"),
    )
