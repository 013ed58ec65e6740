"""Pages of the supervisory documents.

区域监管 · 整改通知与指令 (``/region/notices``): the supervising side issues notices and
instructions (prefilled from a problem of the region pages: an alarm, a fault, an
overproduction), lists the open and overdue ones per mine, verifies or sends back.
生产管理 · 上级通知与指令 (``/production/notices``): the mine acknowledges and answers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from coalwatch.adapters.documents import PDF
from coalwatch.alarms.models import Alarm
from coalwatch.domain import notices as rules
from coalwatch.domain.alarms import LABELS, AlarmType
from coalwatch.errors import CoalwatchError
from coalwatch.faults.models import Fault
from coalwatch.mines import service as mines
from coalwatch.notices import service
from coalwatch.notices.schemas import (
    MAX_ATTACHMENT_BYTES,
    AckIn,
    AnswerIn,
    IssueIn,
    ReturnIn,
    VerifyIn,
)
from coalwatch.orgs import service as orgs
from coalwatch.orgs.repository import mines_under
from coalwatch.schemas import Id
from coalwatch.web.exports import file_response
from coalwatch.web.pages import CSRF_FIELD, Page, error_text, need

router = APIRouter(include_in_schema=False)
RegionPage = Annotated[Page, Depends(need("region:view"))]
MinePage = Annotated[Page, Depends(need("production:view"))]
Code = Annotated[str | None, Query(max_length=64)]
Number = Annotated[str, Query(max_length=64)]
SIDES = {"region": "/region/notices", "production": "/production/notices"}


def _labels() -> dict[str, Any]:
    return {
        "kinds": rules.KIND_LABELS,
        "states": rules.STATE_LABELS,
        "stages": rules.STAGE_LABELS,
        "link_labels": rules.LINK_LABELS,
    }


async def _form(page: Page) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The posted fields (blank ones left out) and the uploaded files as attachments."""
    form = await page.request.form()
    data: dict[str, Any] = {}
    files: list[dict[str, str]] = []
    for key, value in form.multi_items():
        if key == CSRF_FIELD:
            continue
        if isinstance(value, UploadFile):
            content = await value.read(MAX_ATTACHMENT_BYTES + 1)
            if value.filename and content:
                files.append(
                    {
                        "name": value.filename[-200:],
                        "media_type": value.content_type or "application/octet-stream",
                        "content_b64": base64.b64encode(content).decode(),
                    }
                )
            continue
        if value.strip():
            data[key] = value.strip()
    return data, files


def _local(page: Page, value: str | None) -> str | None:
    """A datetime-local field in the deployment's time zone, as an ISO instant."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=page.state.settings.tz).isoformat()
    except ValueError:
        return value  # the schema says what is wrong


async def _act(page: Page, act: Callable[[Session], str], back: str, done: str) -> Response:
    """Run ``act`` in one transaction; a refusal (403) is raised, other errors come back
    as a message on ``back``; success goes to the page ``act`` returns."""

    def work() -> str:
        with page.session() as session:
            return act(session)

    try:
        target = await run_in_threadpool(work)
    except ValidationError as exc:
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    except CoalwatchError as exc:
        if exc.status in (401, 403):
            raise
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    return page.redirect(target, done)


def _list(page: Page, side: str, **filters: Any) -> Response:
    with page.session() as session:
        items = service.list_notices(session, page.principal, page.now(), **filters)
        visible = [m for m, _ in mines_under(session, page.principal.scope_path)]
        counts = service.open_counts(session, [m.id for m in visible], page.now())
    per_mine = [(m, counts[m.id]) for m in visible if m.id in counts]
    return page.render(
        "notices/list.html",
        side=side,
        base=SIDES[side],
        items=items,
        per_mine=per_mine,
        filters=filters,
        **_labels(),
    )


@router.get("/region/notices")
def region_list(
    page: RegionPage,
    kind: Code = None,
    mine: Code = None,
    org: Code = None,
    state: Code = None,
    overdue: bool = False,
    all: bool = False,
) -> Response:
    """整改通知与指令: the open documents (all with ``all``), the overdue ones with
    ``overdue``, per mine."""
    return _list(
        page,
        "region",
        kind=kind if kind in rules.KIND_LABELS else None,
        mine=mine,
        org=org,
        state=state if state in rules.STATE_LABELS else None,
        open_only=not all,
        overdue_only=overdue,
    )


@router.get("/production/notices")
def mine_list(page: MinePage, mine: Code = None, all: bool = False) -> Response:
    """上级通知与指令: what the mine has to acknowledge and answer."""
    return _list(page, "production", mine=mine, open_only=not all)


@router.get("/region/notices/new")
def new(
    page: RegionPage,
    kind: Code = "notice",
    mine: Code = None,
    org: Code = None,
    alarm: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    fault: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    overproduction: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """下发整改通知 / 下达指令, prefilled with the problem it is about."""
    cites: list[tuple[str, str, str]] = []
    with page.session() as session:
        mine_items = mines.list_mines(session, page.principal, page.now())
        unit_items = orgs.list_orgs(session, page.principal)
        if alarm is not None:
            found = session.get(Alarm, alarm)
            if found is not None and found.mine_id is not None:
                label = LABELS.get(AlarmType(found.type), found.type)
                cites.append(("alarm", str(found.id), f"#{found.id} {page.label(label)}"))
        if fault is not None:
            cited = session.get(Fault, fault)
            if cited is not None:
                cites.append(("fault", str(cited.id), f"#{cited.id} {cited.phenomenon}"))
    if overproduction:
        cites.append(("overproduction", "", overproduction))
    deadline = (page.now().astimezone(page.state.settings.tz) + timedelta(days=7)).replace(
        second=0, microsecond=0, tzinfo=None
    )
    return page.render(
        "notices/new.html",
        kind=kind if kind in rules.KIND_LABELS else "notice",
        mine=mine or "",
        org=org or "",
        mines=mine_items,
        units=unit_items,
        cites=cites,
        deadline=deadline.isoformat(timespec="minutes"),
        default_ack=rules.DEFAULT_ACK_HOURS,
        max_ack=rules.MAX_ACK_HOURS,
        **_labels(),
    )


def _cites(data: dict[str, Any]) -> list[dict[str, str]]:
    """The cited problems of the form: ``cite_kind``/``cite_ref``/``cite_label`` rows
    (numbered ``_0``, ``_1`` ...), and a finding written in ``finding``."""
    out = []
    for i in range(50):
        kind = data.pop(f"cite_kind_{i}", None)
        ref, label = data.pop(f"cite_ref_{i}", None), data.pop(f"cite_label_{i}", None)
        if kind is None:
            continue
        cite = {"kind": kind}
        if ref:
            cite["ref"] = ref
        if label and kind not in ("alarm", "fault"):
            cite["label"] = label
        out.append(cite)
    finding = data.pop("finding", None)
    if finding:
        out.append({"kind": "finding", "label": finding})
    return out


@router.post("/region/notices")
async def issue(page: RegionPage) -> Response:
    data, files = await _form(page)
    data["cites"] = _cites(data)
    data["attachments"] = files
    data["deadline"] = _local(page, data.get("deadline"))
    if data.get("kind") == "instruction" and data.get("org"):
        data.pop("mine", None)
    else:
        data.pop("org", None)
    query = "&".join(f"{k}={quote(str(data[k]))}" for k in ("kind", "mine") if data.get(k))

    def act(session: Session) -> str:
        issued = service.issue(session, page.principal, IssueIn.model_validate(data), page.now())
        return f"/region/notices/{issued.number}"

    return await _act(page, act, f"/region/notices/new?{query}", page._("已下发"))


def _detail(page: Page, side: str, number: str) -> Response:
    with page.session() as session:
        document = service.get_notice(session, page.principal, number, page.now())
    return page.render("notices/detail.html", side=side, base=SIDES[side], d=document, **_labels())


@router.get("/region/notices/{number}")
def region_detail(page: RegionPage, number: str) -> Response:
    return _detail(page, "region", number)


@router.get("/production/notices/{number}")
def mine_detail(page: MinePage, number: str) -> Response:
    return _detail(page, "production", number)


def _pdf(page: Page, number: str) -> Response:
    with page.session() as session:
        content = service.pdf(session, page.principal, number, page.now(), page.state.settings.tz)
    return file_response(f"{number}.pdf", content, PDF)


@router.get("/region/notices/{number}/pdf")
def region_pdf(page: RegionPage, number: str) -> Response:
    return _pdf(page, number)


@router.get("/production/notices/{number}/pdf")
def mine_pdf(page: MinePage, number: str) -> Response:
    return _pdf(page, number)


def _file(page: Page, number: str, attachment_id: int) -> Response:
    with page.session() as session:
        found = service.attachment(session, page.principal, number, attachment_id)
        return file_response(found.name, found.content, found.media_type)


@router.get("/region/notices/{number}/attachments/{attachment_id}")
def region_file(page: RegionPage, number: str, attachment_id: Id) -> Response:
    return _file(page, number, attachment_id)


@router.get("/production/notices/{number}/attachments/{attachment_id}")
def mine_file(page: MinePage, number: str, attachment_id: Id) -> Response:
    return _file(page, number, attachment_id)


@router.post("/region/notices/{number}/verify")
async def verify(page: RegionPage, number: str) -> Response:
    data, _ = await _form(page)

    def act(session: Session) -> str:
        service.verify(session, page.principal, number, VerifyIn.model_validate(data), page.now())
        return f"/region/notices/{number}"

    return await _act(page, act, f"/region/notices/{number}", page._("已验收"))


@router.post("/region/notices/{number}/return")
async def send_back(page: RegionPage, number: str) -> Response:
    data, _ = await _form(page)
    if data.get("deadline"):
        data["deadline"] = _local(page, data["deadline"])

    def act(session: Session) -> str:
        model = ReturnIn.model_validate(data)
        service.send_back(session, page.principal, number, model, page.now())
        return f"/region/notices/{number}"

    return await _act(page, act, f"/region/notices/{number}", page._("已退回"))


@router.post("/production/notices/{number}/ack")
async def acknowledge(page: MinePage, number: str) -> Response:
    data, _ = await _form(page)

    def act(session: Session) -> str:
        model = AckIn.model_validate(data)
        service.acknowledge(session, page.principal, number, model, page.now())
        return f"/production/notices/{number}"

    return await _act(page, act, f"/production/notices/{number}", page._("已签收"))


@router.post("/production/notices/{number}/answer")
async def answer(page: MinePage, number: str) -> Response:
    data, files = await _form(page)
    data["attachments"] = files

    def act(session: Session) -> str:
        model = AnswerIn.model_validate(data)
        service.answer(session, page.principal, number, model, page.now())
        return f"/production/notices/{number}"

    return await _act(page, act, f"/production/notices/{number}", page._("已反馈"))
