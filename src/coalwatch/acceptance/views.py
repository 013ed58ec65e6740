"""区域监管 · 验收与年检: the acceptance state of every mine, a mine's decisions, and the
forms of the supervising unit (accept, suspend, re-accept, annual inspection, record)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.acceptance import service
from coalwatch.acceptance.schemas import DecisionIn
from coalwatch.domain.acceptance import ALLOWED_FROM, KIND_LABELS, STATE_LABELS
from coalwatch.orgs import authority
from coalwatch.orgs import service as orgs
from coalwatch.schemas import Id
from coalwatch.web.exports import file_response
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, Uploaded, need, store_upload

router = APIRouter(include_in_schema=False)
RegionPage = Annotated[Page, Depends(need("region:view"))]
Code = Annotated[str | None, Query(max_length=64)]


@router.get("/region/acceptance")
def board(page: RegionPage, org: Code = None) -> Response:
    """验收与年检: every mine's state, its acceptance in force and the next inspection."""
    with page.session() as session:
        units = orgs.unit_tree(session, page.principal)
        items = service.board(session, page.principal, org, page.now())
    return page.render(
        "acceptance/board.html",
        items=items,
        units=units,
        org=org or "",
        states=STATE_LABELS,
        overdue=sum(1 for i in items if i.inspection_overdue),
        unaccepted=sum(1 for i in items if not i.accepted),
    )


@router.get("/region/acceptance/{mine}")
def mine_page(page: RegionPage, mine: str) -> Response:
    with page.session() as session:
        view = service.acceptance_of(session, page.principal, mine, page.now())
        found = orgs.visible_org(session, page.principal, view.org)
        decides = authority.may_decide(session, page.principal, service.DECIDE, found)
    kinds = [k for k, allowed in ALLOWED_FROM.items() if view.state in allowed]
    return page.render(
        "acceptance/mine.html",
        view=view,
        states=STATE_LABELS,
        kinds=KIND_LABELS,
        allowed=kinds,
        decides=decides,
        today=page.now().astimezone(page.state.settings.tz).date(),
    )


@router.post("/region/acceptance/{mine}")
async def decide(page: RegionPage, mine: str) -> Response:
    def action(session: Session, data: DecisionIn) -> None:
        service.decide(session, page.principal, mine, data, page.now())

    return await submit(
        page, DecisionIn, action, back=f"/region/acceptance/{mine}", done=page._("决定已记录")
    )


@router.post("/region/acceptance/{mine}/records/{decision_id}")
async def upload_record(page: RegionPage, mine: str, decision_id: Id) -> Response:
    """The acceptance record's file, uploaded from the page (multipart)."""
    page.principal.require(service.DECIDE)

    def store(session: Session, upload: Uploaded) -> None:
        service.set_record(
            session,
            page.principal,
            decision_id,
            upload.data,
            upload.content_type,
            upload.name,
            page.now(),
        )

    return await store_upload(
        page, store, back=f"/region/acceptance/{mine}", done=page._("验收记录已保存")
    )


@router.get("/region/acceptance/records/{decision_id}")
def record(page: RegionPage, decision_id: Id) -> Response:
    with page.session() as session:
        data, media_type, name = service.record_file(session, page.principal, decision_id)
    return file_response(name, data, media_type)
