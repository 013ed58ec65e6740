"""报警处理 · 可疑增量: the increments held out of production, confirmed or rejected by a
supervising user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.domain.alarms import (
    INCREMENT_KIND_LABELS,
    SUSPECT_REASON_LABELS,
    SUSPECT_STATE_LABELS,
)
from coalwatch.mines import service as mines
from coalwatch.schemas import Id
from coalwatch.suspects import service
from coalwatch.suspects.schemas import ConfirmIn, RejectIn
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
AlarmPage = Annotated[Page, Depends(need("alarm:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]


@router.get("/alarms/suspects")
def suspects(page: AlarmPage, mine: MineParam = None) -> Response:
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        code = mine or (items[0].code if items else None)
        found = service.list_suspects(session, page.principal, code) if code else []
    current = next((m for m in items if m.code == code), None)
    return page.render(
        "suspects/suspects.html",
        mines=items,
        mine=code,
        current=current,
        suspects=found,
        increment_kinds=INCREMENT_KIND_LABELS,
        suspect_reasons=SUSPECT_REASON_LABELS,
        suspect_states=SUSPECT_STATE_LABELS,
    )


@router.post("/alarms/suspects/{suspect_id}/confirm")
async def confirm(page: AlarmPage, suspect_id: Id, mine: MineParam = None) -> Response:
    def action(session: Session, data: ConfirmIn) -> None:
        service.confirm(session, page.principal, suspect_id, data, page.now())

    return await submit(
        page,
        ConfirmIn,
        action,
        back=_back(mine),
        done=page._("可疑增量已确认，计入产量"),
    )


@router.post("/alarms/suspects/{suspect_id}/reject")
async def reject(page: AlarmPage, suspect_id: Id, mine: MineParam = None) -> Response:
    def action(session: Session, data: RejectIn) -> None:
        service.reject(session, page.principal, suspect_id, data, page.now())

    return await submit(
        page,
        RejectIn,
        action,
        back=_back(mine),
        done=page._("可疑增量已驳回"),
    )


def _back(mine: str | None) -> str:
    return "/alarms/suspects" + (f"?mine={mine}" if mine else "")
