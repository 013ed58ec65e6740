"""Pages of 台账管理: 运行日志 (duty log), 交接班记录 (shift handover), 巡检记录 (patrols)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from coalwatch.domain.duty import HANDOVER_CHECKS
from coalwatch.duty import service
from coalwatch.duty.schemas import (
    CheckIn,
    DutyEntryIn,
    HandoverIn,
    IssueOut,
    PatrolIn,
    ResolvedIn,
    ShiftList,
    SignIn,
)
from coalwatch.errors import N_
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import MineOut
from coalwatch.web.exports import Cell
from coalwatch.web.forms import submit
from coalwatch.web.listing import Format, PageNo, export, local, paging, window
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]
FromParam = Annotated[date | None, Query(alias="from")]
ToParam = Annotated[date | None, Query(alias="to")]
#: the days a page shows unless asked: this one and the six before
DEFAULT_DAYS = 7
STATE_LABELS = {
    "draft": N_("待交班签字"),
    "outgoing_signed": N_("待接班签字"),
    "complete": N_("已交接"),
}
Row = TypeVar("Row")


class Filters(BaseModel):
    mines: list[MineOut]
    mine: str | None
    first: date
    last: date

    def url(self, path: str) -> str:
        query = {
            "mine": self.mine or "",
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
        }
        return f"{path}?{urlencode(query)}&"


def _filters(
    page: LedgerPage, mine: MineParam = None, first: FromParam = None, last: ToParam = None
) -> Filters:
    """The mine (the first one seen unless asked) and the local days (the last
    DEFAULT_DAYS unless asked) of a ledger page."""
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
    codes = [m.code for m in items]
    code = mine if mine in codes else (codes[0] if codes else None)
    today = page.now().astimezone(page.state.settings.tz).date()
    last = last or today
    first = first or min(last, today) - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first = last
    return Filters(mines=items, mine=code, first=first, last=last)


LedgerFilters = Annotated[Filters, Depends(_filters)]
Lister = Callable[..., tuple[list[Row], int]]


def _rows(
    page: Page, f: Filters, lister: Lister[Row], page_no: int, format: str | None
) -> tuple[list[Row], int]:
    """The page's rows (all of them for a download) and how many there are."""
    if not f.mine:
        return [], 0
    with page.session() as session:
        return lister(session, page.principal, f.mine, f.first, f.last, **window(page_no, format))


def _shifts(page: Page, f: Filters) -> ShiftList | None:
    if not f.mine:
        return None
    with page.session() as session:
        return service.shift_overview(session, page.principal, f.mine, f.first, f.last, page.now())


# ---- 运行日志 -------------------------------------------------------------------------


@router.get("/ledger/duty")
def duty_page(
    page: LedgerPage, f: LedgerFilters, page_no: PageNo = 1, format: Format = None
) -> Response:
    items, total = _rows(page, f, service.entries, page_no, format)
    if format:
        _ = page._
        header = [_("时间"), _("矿井"), _("日期"), _("班次"), _("内容"), _("记录人")]
        rows: list[list[Cell]] = [
            [local(page, e.at), e.mine_name, e.shift_day, e.shift, e.text, e.recorded_by]
            for e in items
        ]
        return export(page, _("运行日志"), header, rows, format)
    return page.render(
        "duty/duty.html",
        f=f,
        items=items,
        total=total,
        shifts=_shifts(page, f),
        **paging(page_no, f.url("/ledger/duty")),
    )


@router.post("/ledger/{mine}/duty")
async def add_entry(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: DutyEntryIn) -> None:
        service.add_entry(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        DutyEntryIn,
        action,
        back=f"/ledger/duty?mine={mine}",
        done=page._("运行日志已记录"),
        local_times=("at",),
    )


# ---- 巡检记录 -------------------------------------------------------------------------


@router.get("/ledger/patrols")
def patrols_page(
    page: LedgerPage, f: LedgerFilters, page_no: PageNo = 1, format: Format = None
) -> Response:
    items, total = _rows(page, f, service.patrols, page_no, format)
    if format:
        _ = page._
        header = [
            _("时间"), _("矿井"), _("日期"), _("班次"), _("计量点"), _("巡检人"),
            _("巡检内容"), _("发现问题"), _("记录人"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                local(page, p.at),
                p.mine_name,
                p.shift_day,
                p.shift,
                p.point,
                p.patrolled_by,
                p.checked,
                p.findings,
                p.recorded_by,
            ]
            for p in items
        ]
        return export(page, _("巡检记录"), header, rows, format)
    return page.render(
        "duty/patrols.html",
        f=f,
        current=next((m for m in f.mines if m.code == f.mine), None),
        items=items,
        total=total,
        shifts=_shifts(page, f),
        **paging(page_no, f.url("/ledger/patrols")),
    )


@router.post("/ledger/{mine}/patrols")
async def add_patrol(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: PatrolIn) -> None:
        service.add_patrol(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        PatrolIn,
        action,
        back=f"/ledger/patrols?mine={mine}",
        done=page._("巡检记录已保存"),
        local_times=("at",),
    )


# ---- 交接班记录 -----------------------------------------------------------------------


@router.get("/ledger/handover")
def handover_page(
    page: LedgerPage, f: LedgerFilters, page_no: PageNo = 1, format: Format = None
) -> Response:
    items, total = _rows(page, f, service.handovers, page_no, format)
    _ = page._
    if format:
        header = [
            _("日期"), _("班次"), _("矿井"), _("交班人"), _("接班人"),
            *[page.label(label) for _c, label in HANDOVER_CHECKS],
            _("遗留问题"), _("巡检次数"), _("交班签字"), _("接班签字"), _("状态"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                h.shift_day,
                h.shift,
                h.mine_name,
                h.outgoing,
                h.incoming,
                *[
                    (_("无误") if c.ok else _("异常")) + (f": {c.note}" if c.note else "")
                    for c in h.checks
                ],
                "; ".join(i.text + (f" ({_('已处理')})" if i.resolved else "") for i in h.issues),
                h.patrols,
                local(page, h.outgoing_signed_at),
                local(page, h.incoming_signed_at),
                page.label(STATE_LABELS[h.state]),
            ]
            for h in items
        ]
        return export(page, _("交接班记录"), header, rows, format)
    carried: list[IssueOut] = []
    if f.mine:
        with page.session() as session:
            carried = service.carried(session, page.principal, f.mine, page.now())
    return page.render(
        "duty/handover.html",
        f=f,
        items=items,
        total=total,
        carried=carried,
        checks=HANDOVER_CHECKS,
        states=STATE_LABELS,
        **paging(page_no, f.url("/ledger/handover")),
    )


class HandoverForm(BaseModel):
    """The handover form's flat fields: ``check_<item>`` ("1" in order, "0" not),
    ``note_<item>``, ``resolved_<issue id>``, ``resolution_<issue id>``, and the new
    issues one per line."""

    model_config = ConfigDict(extra="allow")
    incoming: str = ""
    issues: str = ""
    note: str | None = None

    def handover(self) -> HandoverIn:
        extra = self.model_extra or {}
        checks = [
            CheckIn.model_validate(
                {
                    "item": item,
                    "ok": extra.get(f"check_{item}") == "1",
                    "note": extra.get(f"note_{item}"),
                }
            )
            for item, _label in HANDOVER_CHECKS
        ]
        resolved = [
            ResolvedIn(
                issue=int(key.removeprefix("resolved_")),
                resolution=extra.get("resolution_" + key.removeprefix("resolved_")),
            )
            for key in extra
            if key.startswith("resolved_") and key.removeprefix("resolved_").isdigit()
        ]
        return HandoverIn.model_validate(
            {
                "incoming": self.incoming,
                "checks": [c.model_dump() for c in checks],
                "issues": [line.strip() for line in self.issues.splitlines() if line.strip()],
                "resolved": [r.model_dump() for r in resolved],
                "note": self.note,
            }
        )


@router.post("/ledger/{mine}/handover")
async def create_handover(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: HandoverForm) -> None:
        service.create_handover(session, page.principal, mine, data.handover(), page.now())

    return await submit(
        page,
        HandoverForm,
        action,
        back=f"/ledger/handover?mine={mine}",
        done=page._("交班已签字，待接班人签字"),
    )


@router.post("/ledger/{mine}/handover/{handover}/sign")
async def sign_handover(page: LedgerPage, mine: str, handover: int) -> Response:
    def action(session: Session, data: SignIn) -> None:
        service.sign_handover(session, page.principal, handover, data, page.now())

    return await submit(
        page,
        SignIn,
        action,
        back=f"/ledger/handover?mine={mine}",
        done=page._("接班已签字，交接完成"),
    )
