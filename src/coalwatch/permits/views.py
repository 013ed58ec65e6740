"""Pages of 生产管理: 停产报备 (shutdown declarations) and 开盖/调参审批 (maintenance permits)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from coalwatch.archive import service as archive
from coalwatch.archive import store
from coalwatch.domain.archive import Owner
from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.mines import service as mines
from coalwatch.permits import service
from coalwatch.permits.schemas import PermitIn, ResumeIn, ShutdownIn, ShutdownReportIn
from coalwatch.web.forms import submit
from coalwatch.web.pages import CSRF_FIELD, Page, error_text, need, uploaded
from coalwatch.workflows.views import STATUS_LABELS, requests_of

router = APIRouter(include_in_schema=False)
ProductionPage = Annotated[Page, Depends(need("production:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]


def _page(page: Page, template: str, mine: str | None) -> Response:
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        code = mine or (items[0].code if items else None)
        shutdowns = service.list_shutdowns(session, page.principal, code) if code else []
        permits = service.list_permits(session, page.principal, code) if code else []
    current = next((m for m in items if m.code == code), None)
    return page.render(
        template,
        mines=items,
        mine=code,
        current=current,
        shutdowns=shutdowns,
        permits=permits,
        requests=requests_of(page, code, "permit"),
        statuses=STATUS_LABELS,
        back_page="permits",
    )


@router.get("/production/shutdowns")
def shutdowns(page: ProductionPage, mine: MineParam = None) -> Response:
    return _page(page, "permits/shutdowns.html", mine)


async def _report_file(page: Page) -> archive.Upload | None:
    """The written report 书面报告 sent with the form, if any."""
    file = await uploaded(page, "report")
    if file is None:
        return None
    return archive.Upload(
        kind="shutdown_report",
        title=f"{page._('停产书面报告')} {file.name}",
        file_name=file.name,
        content_type=file.content_type or "application/octet-stream",
        data=file.data,
    )


def _keep_report(page: Page, session: Session, mine: str, upload: archive.Upload) -> int:
    settings = page.state.settings
    kept = archive.upload(
        session,
        page.principal,
        store.root(settings),
        Owner.MINE,
        mine,
        upload,
        page.now(),
        settings.tz,
    )
    return kept.id


async def _with_report(
    page: Page, mine: str, act: Callable[[Session, int | None], object], done: str
) -> Response:
    """Run ``act`` with the written report of the form kept in the mine's archive first,
    in one transaction (a refused act keeps no document)."""
    back = f"/production/shutdowns?mine={mine}"
    upload = await _report_file(page)

    def work() -> None:
        with page.session() as session:
            document = _keep_report(page, session, mine, upload) if upload else None
            act(session, document)

    try:
        await run_in_threadpool(work)
    except (ValidationError, CoalwatchError) as exc:
        if isinstance(exc, CoalwatchError) and exc.status in (401, 403):
            raise
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    return page.redirect(back, done)


@router.post("/production/{mine}/shutdowns")
async def declare_shutdown(page: ProductionPage, mine: str) -> Response:
    form = await page.request.form()
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
    for name in ("start", "end"):
        if name in fields:
            with suppress(ValueError):
                local = datetime.fromisoformat(fields[name]).replace(tzinfo=page.state.settings.tz)
                fields[name] = local.isoformat()
    fields.pop(CSRF_FIELD, None)

    def act(session: Session, document: int | None) -> None:
        data = ShutdownIn.model_validate({**fields, "report_document": document})
        service.declare_shutdown(session, page.principal, mine, data, page.now())

    return await _with_report(page, mine, act, page._("停产报备已登记"))


@router.post("/production/{mine}/shutdowns/{shutdown_id}/report")
async def file_report(page: ProductionPage, mine: str, shutdown_id: int) -> Response:
    def act(session: Session, document: int | None) -> None:
        page.principal.require("production:write")
        if document is None:
            raise Invalid(page._("请选择书面报告文件"))
        data = ShutdownReportIn(document=document)
        service.file_shutdown_report(session, page.principal, mine, shutdown_id, data, page.now())

    return await _with_report(page, mine, act, page._("书面报告已提交"))


@router.post("/production/{mine}/shutdowns/{shutdown_id}/resume")
async def request_resumption(page: ProductionPage, mine: str, shutdown_id: int) -> Response:
    def action(session: Session, data: ResumeIn) -> None:
        service.request_resumption(session, page.principal, mine, shutdown_id, data, page.now())

    return await submit(
        page,
        ResumeIn,
        action,
        back=f"/production/shutdowns?mine={mine}",
        done=page._("复产申请已提交"),
        local_times=("resume_at",),
    )


@router.post("/production/{mine}/shutdowns/{shutdown_id}/resumption/acknowledge")
async def acknowledge_resumption(page: ProductionPage, mine: str, shutdown_id: int) -> Response:
    def action(session: Session, _: _Confirm) -> None:
        service.acknowledge_resumption(session, page.principal, mine, shutdown_id, page.now())

    return await submit(
        page,
        _Confirm,
        action,
        back=f"/production/shutdowns?mine={mine}",
        done=page._("复产已确认"),
    )


class _Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")


@router.post("/production/{mine}/shutdowns/{shutdown_id}/acknowledge")
async def acknowledge_shutdown(page: ProductionPage, mine: str, shutdown_id: int) -> Response:
    def action(session: Session, _: _Confirm) -> None:
        service.acknowledge_shutdown(session, page.principal, mine, shutdown_id, page.now())

    return await submit(
        page,
        _Confirm,
        action,
        back=f"/production/shutdowns?mine={mine}",
        done=page._("停产报备已确认"),
    )


@router.get("/production/permits")
def permits(page: ProductionPage, mine: MineParam = None) -> Response:
    return _page(page, "permits/permits.html", mine)


@router.post("/production/{mine}/permits")
async def approve_permit(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: PermitIn) -> None:
        service.approve_permit(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        PermitIn,
        action,
        back=f"/production/permits?mine={mine}",
        done=page._("开盖/调参已审批"),
        local_times=("start", "end"),
    )
