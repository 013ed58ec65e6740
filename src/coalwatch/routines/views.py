"""Page of 台账管理: 定期检查 (the schedule board: due, overdue and done, per mine)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.domain.routines import BY_CODE, DUE_LABELS, ROUTINES, VERDICT_LABELS
from coalwatch.errors import N_
from coalwatch.mines import service as mines
from coalwatch.routines import service
from coalwatch.routines.schemas import RoutineIn
from coalwatch.web.exports import Cell
from coalwatch.web.forms import submit
from coalwatch.web.listing import Format, export
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]
#: every check of the board, the calibration included
KIND_LABELS = {**{r.code: r.label for r in ROUTINES}, "calibration": N_("皮带秤调校")}


@router.get("/routines/board")
def board_page(page: LedgerPage, mine: MineParam = None, format: Format = None) -> Response:
    with page.session() as session:
        choices = mines.list_mines(session, page.principal, page.now())
        code = mine if mine in {m.code for m in choices} else None
        board = service.board(session, page.principal, code, page.now())
        recent = service.records(session, page.principal, code).items[:20] if code else []
    _ = page._
    if format:
        header = [_("矿井"), _("计量点"), _("检查项目"), _("上次完成"), _("到期日"), _("状态")]
        rows: list[list[Cell]] = [
            [
                i.mine_name,
                i.point,
                page.label(KIND_LABELS[i.kind]),
                i.last,
                i.due,
                page.label(DUE_LABELS[i.state]),
            ]
            for i in board.items
        ]
        return export(page, _("定期检查"), header, rows, format)
    current = next((m for m in choices if m.code == code), None)
    return page.render(
        "routines/board.html",
        mines=choices,
        mine=code,
        current=current,
        board=board,
        recent=recent,
        kinds=KIND_LABELS,
        routines=ROUTINES,
        by_code=BY_CODE,
        due_labels=DUE_LABELS,
        verdicts=VERDICT_LABELS,
        base_url="/routines/board?" + urlencode({"mine": code or ""}) + "&",
    )


@router.post("/routines/{mine}/record")
async def record(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: RoutineIn) -> None:
        service.record(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        RoutineIn,
        action,
        back=f"/routines/board?mine={mine}",
        done=page._("检查记录已保存"),
        local_times=("done_at",),
    )
