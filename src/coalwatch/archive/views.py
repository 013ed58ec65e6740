"""Page of 台账管理: 档案资料 (a mine's or a center's documents as a checklist, their
files, approvals and history)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.archive import service, store
from coalwatch.archive.api import content_disposition
from coalwatch.archive.schemas import Checklist
from coalwatch.domain.archive import BY_CODE, KINDS, STATE_LABELS, Owner
from coalwatch.errors import Invalid
from coalwatch.mines import service as mines
from coalwatch.orgs import service as orgs
from coalwatch.web.pages import Page, act, error_text, need, uploaded

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]
CodeParam = Annotated[str | None, Query(max_length=64)]


def _where(mine: str | None, org: str | None) -> str:
    return "/ledger/archive?" + urlencode({"org": org} if org else {"mine": mine or ""})


@router.get("/ledger/archive")
def archive_page(page: LedgerPage, mine: CodeParam = None, org: CodeParam = None) -> Response:
    with page.session() as session:
        mine_items = mines.list_mines(session, page.principal, page.now())
        units = orgs.unit_tree(session, page.principal)
        code = None if org else (mine or (mine_items[0].code if mine_items else None))
        approves = (
            {r for r in service.APPROVERS if service.holds_role(session, page.principal, r)}
            if page.principal.has(service.APPROVE)
            else set()
        )
        checklist: Checklist | None = None
        if org:
            checklist = service.checklist(
                session, page.principal, Owner.CENTER, org, page.now(), page.state.settings.tz
            )
        elif code:
            checklist = service.checklist(
                session, page.principal, Owner.MINE, code, page.now(), page.state.settings.tz
            )
    return page.render(
        "archive/archive.html",
        mines=mine_items,
        units=units,
        mine=code,
        org=org,
        checklist=checklist,
        kinds=KINDS,
        by_code=BY_CODE,
        states=STATE_LABELS,
        roles=service.ROLE_LABELS,
        approves=approves,
        back=_where(code, org),
    )


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


@router.post("/ledger/archive/{owner}/{code}/upload")
async def upload(page: LedgerPage, owner: str, code: str) -> Response:
    where = Owner.CENTER if owner == Owner.CENTER.value else Owner.MINE
    back = _where(None if where is Owner.CENTER else code, code if where is Owner.CENTER else None)
    file = await uploaded(page)
    if file is None:
        page.flash(page._("请选择要上传的文件"), "error")
        return page.redirect(back)
    form = await page.request.form()
    until = _text(form.get("valid_until"))
    replaces = _text(form.get("replaces"))
    try:
        data = service.Upload(
            kind=_text(form.get("kind")) or "",
            title=_text(form.get("title")) or "",
            file_name=file.name,
            content_type=file.content_type or "application/octet-stream",
            data=file.data,
            valid_until=date.fromisoformat(until) if until else None,
            note=_text(form.get("note")),
            replaces=int(replaces) if replaces else None,
        )
    except ValueError as exc:
        page.flash(error_text(Invalid(str(exc)), page._), "error")
        return page.redirect(back)
    settings = page.state.settings

    def keep(session: Session) -> None:
        service.upload(
            session,
            page.principal,
            store.root(settings),
            where,
            code,
            data,
            page.now(),
            settings.tz,
        )

    return await act(page, keep, back=back, done=page._("文件已归档"))


async def _decide(page: Page, doc_id: int, decision: str, done: str) -> Response:
    form = await page.request.form()
    back = str(form.get("back") or "/ledger/archive")
    if not back.startswith("/ledger/archive"):
        back = "/ledger/archive"
    settings = page.state.settings

    def work(session: Session) -> None:
        if decision == "approve":
            service.approve(session, page.principal, doc_id, page.now(), settings.tz)
        else:
            service.delete(
                session, page.principal, store.root(settings), doc_id, page.now(), settings.tz
            )

    return await act(page, work, back=back, done=done)


@router.post("/ledger/archive/documents/{doc_id}/approve")
async def approve(page: LedgerPage, doc_id: int) -> Response:
    return await _decide(page, doc_id, "approve", page._("文件已审批"))


@router.post("/ledger/archive/documents/{doc_id}/delete")
async def delete(page: LedgerPage, doc_id: int) -> Response:
    return await _decide(page, doc_id, "delete", page._("文件已删除"))


@router.get("/ledger/archive/documents/{doc_id}/file")
def download(page: LedgerPage, doc_id: int) -> Response:
    settings = page.state.settings
    with page.session() as session:
        doc, content = service.download(
            session, page.principal, store.root(settings), doc_id, settings.tz
        )
    return Response(
        content,
        media_type=doc.content_type,
        headers={"Content-Disposition": content_disposition(doc.file_name)},
    )
