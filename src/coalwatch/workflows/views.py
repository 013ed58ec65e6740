"""Pages of 生产管理: 折算系数 (coefficient applications) and 人工录入 (manual production),
each a workflow: submit → 待审批 → approved (in force / counted) or rejected."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from coalwatch.errors import N_
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import ManualProductionIn, MineConfig, MineOut
from coalwatch.web.exports import Cell
from coalwatch.web.forms import submit
from coalwatch.web.listing import Format, PageNo, export, local, paging, window
from coalwatch.web.pages import Page, need
from coalwatch.workflows import service
from coalwatch.workflows.schemas import (
    STATUSES,
    CoefficientApplicationIn,
    CoefficientApplicationOut,
    ManualEntryOut,
    RejectIn,
    RequestKind,
    RequestOut,
    Status,
)

router = APIRouter(include_in_schema=False)
ProductionPage = Annotated[Page, Depends(need("production:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]
StatusParam = Annotated[str | None, Query(max_length=16)]

STATUS_LABELS = {"pending": N_("待审批"), "approved": N_("已批准"), "rejected": N_("已驳回")}
KIND_LABELS = {"half_year": N_("半年申报"), "change": N_("变更申请")}
Row = TypeVar("Row")


class _Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _status(value: str | None) -> Status | None:
    for status in STATUSES:
        if status == value:
            return status
    return None


def _scope(page: Page, mine: str | None) -> tuple[list[MineOut], str | None, MineConfig | None]:
    """The mines to pick from, the chosen one ("" or unknown: all mines) and its
    configuration (approved coefficients and counted manual production)."""
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        codes = {m.code for m in items}
        code = (items[0].code if items else None) if mine is None else mine
        if code not in codes:
            return items, None, None
        return items, code, mines.mine_config(session, page.principal, code, page.now())


@dataclass
class _Listing(Generic[Row]):
    """A workflow page's applications of the chosen mine and status, with its filters."""

    mines: list[MineOut]
    mine: str | None
    config: MineConfig | None
    status: Status | None
    rows: list[Row]
    total: int

    def context(self, path: str, page_no: int) -> dict[str, Any]:
        """What both pages show: the filters, the paging and the mine's configuration."""
        query = {"mine": self.mine or "", "status": self.status}
        filters = {k: v for k, v in query.items() if v is not None}
        return {
            "mines": self.mines,
            "mine": self.mine,
            "config": self.config,
            "total": self.total,
            "status_filter": self.status,
            "statuses": STATUS_LABELS,
            **paging(page_no, f"{path}?{urlencode(filters)}&"),
        }


def _listing(
    page: Page,
    mine: str | None,
    status: str | None,
    page_no: int,
    format: str | None,
    lister: Callable[..., tuple[list[Row], int]],
) -> _Listing[Row]:
    chosen_status = _status(status)
    items, code, config = _scope(page, mine)
    with page.session() as session:
        rows, total = lister(
            session, page.principal, mine=code, status=chosen_status, **window(page_no, format)
        )
    return _Listing(items, code, config, chosen_status, rows, total)


# ---- 折算系数 ---------------------------------------------------------------------------


@router.get("/production/coefficients")
def coefficients_page(
    page: ProductionPage,
    mine: MineParam = None,
    status: StatusParam = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    view = _listing(page, mine, status, page_no, format, service.coefficient_applications)
    if format:
        return _coefficient_export(page, view.rows, format)
    return page.render(
        "workflows/coefficients.html",
        applications=view.rows,
        kinds=KIND_LABELS,
        **view.context("/production/coefficients", page_no),
    )


def _coefficient_export(page: Page, rows: list[CoefficientApplicationOut], format: str) -> Response:
    _ = page._
    header = [
        _("编号"), _("矿井"), _("类型"), _("系数 (%)"), _("生效日期"),
        _("截止日期"), _("变更日期"), _("影响因素分析"), _("现场实测"), _("申报人"),
        _("申报日期"), _("按期申报"), _("状态"), _("审批人"), _("审批时间"), _("审批意见"),
    ]  # fmt: skip
    data: list[list[Cell]] = [
        [
            a.id,
            a.mine_name,
            page.label(KIND_LABELS[a.kind]),
            a.percent,
            a.approved_from or a.effective_from,
            a.approved_to or a.effective_to,
            a.changed_on,
            a.analysis,
            a.site_measurement,
            a.applied_by,
            a.filed_on,
            _("是") if a.on_time else _("否"),
            page.label(STATUS_LABELS[a.status]),
            a.decided_by,
            local(page, a.decided_at),
            a.decision_note,
        ]
        for a in rows
    ]
    return export(page, _("折算系数申报"), header, data, format)


@router.post("/production/{mine}/coefficients")
async def apply_coefficient(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: CoefficientApplicationIn) -> None:
        service.apply_coefficient(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        CoefficientApplicationIn,
        action,
        back=f"/production/coefficients?mine={mine}",
        done=page._("折算系数申报已提交，待审批"),
    )


@router.post("/production/{mine}/coefficient-applications/{application}/approve")
async def approve_coefficient(page: ProductionPage, mine: str, application: int) -> Response:
    def action(session: Session, _data: _Confirm) -> None:
        service.approve_coefficient_application(session, page.principal, application, page.now())

    return await submit(
        page,
        _Confirm,
        action,
        back=f"/production/coefficients?mine={mine}",
        done=page._("折算系数已批准，自生效日期起执行"),
    )


@router.post("/production/{mine}/coefficient-applications/{application}/reject")
async def reject_coefficient(page: ProductionPage, mine: str, application: int) -> Response:
    def action(session: Session, data: RejectIn) -> None:
        service.reject_coefficient_application(
            session, page.principal, application, data, page.now()
        )

    return await submit(
        page,
        RejectIn,
        action,
        back=f"/production/coefficients?mine={mine}",
        done=page._("折算系数申报已驳回"),
    )


# ---- 人工录入 ---------------------------------------------------------------------------


@router.get("/production/manual")
def manual_page(
    page: ProductionPage,
    mine: MineParam = None,
    status: StatusParam = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    view = _listing(page, mine, status, page_no, format, service.manual_entries)
    if format:
        return _manual_export(page, view.rows, format)
    return page.render(
        "workflows/manual.html", entries=view.rows, **view.context("/production/manual", page_no)
    )


def _manual_export(page: Page, rows: list[ManualEntryOut], format: str) -> Response:
    _ = page._
    header = [
        _("编号"), _("矿井"), _("计量点"), _("开始"), _("结束"), _("毛煤 (t)"), _("原因"),
        _("录入人"), _("录入时间"), _("状态"), _("审批人"), _("审批时间"), _("审批意见"),
    ]  # fmt: skip
    data: list[list[Cell]] = [
        [
            e.id,
            e.mine_name,
            e.point,
            local(page, e.start),
            local(page, e.end),
            e.gross_t,
            e.reason,
            e.applied_by,
            local(page, e.applied_at),
            page.label(STATUS_LABELS[e.status]),
            e.decided_by,
            local(page, e.decided_at),
            e.decision_note,
        ]
        for e in rows
    ]
    return export(page, _("人工录入"), header, data, format)


@router.post("/production/{mine}/manual")
async def submit_manual(page: ProductionPage, mine: str) -> Response:
    def action(session: Session, data: ManualProductionIn) -> None:
        service.submit_manual_entry(session, page.principal, mine, data, page.now())

    return await submit(
        page,
        ManualProductionIn,
        action,
        back=f"/production/manual?mine={mine}",
        done=page._("人工录入已提交，待审批"),
        local_times=("start", "end"),
    )


@router.post("/production/{mine}/manual-entries/{entry}/approve")
async def approve_manual(page: ProductionPage, mine: str, entry: int) -> Response:
    def action(session: Session, _data: _Confirm) -> None:
        service.approve_manual_entry(session, page.principal, entry, page.now())

    return await submit(
        page,
        _Confirm,
        action,
        back=f"/production/manual?mine={mine}",
        done=page._("人工录入已批准，计入产量"),
    )


@router.post("/production/{mine}/manual-entries/{entry}/reject")
async def reject_manual(page: ProductionPage, mine: str, entry: int) -> Response:
    def action(session: Session, data: RejectIn) -> None:
        service.reject_manual_entry(session, page.principal, entry, data, page.now())

    return await submit(
        page,
        RejectIn,
        action,
        back=f"/production/manual?mine={mine}",
        done=page._("人工录入已驳回"),
    )


# ---- a mine's requests: capacity change, month plan, maintenance permit ----------------

#: the page a request's form and decisions go back to
REQUEST_PAGES = {"capacity": "capacity", "plan": "capacity", "permit": "permits"}


def requests_of(page: Page, mine: str | None, *kinds: RequestKind) -> list[RequestOut]:
    """A mine's requests of the given kinds, pending first (for the pages that show them)."""
    if mine is None:
        return []
    with page.session() as session:
        rows, _ = service.mine_requests(session, page.principal, mine=mine, kinds=kinds, size=100)
    return rows


async def _request(page: Page, mine: str, kind: RequestKind, done: str) -> Response:
    schema, _ = service.REQUESTS[kind]

    def action(session: Session, data: BaseModel) -> None:
        service.submit_request(session, page.principal, mine, kind, data, page.now())

    return await submit(
        page,
        schema,
        action,
        back=f"/production/{REQUEST_PAGES[kind]}?mine={mine}",
        done=done,
        local_times=("start", "end") if kind == "permit" else (),
    )


@router.post("/production/{mine}/capacity-requests")
async def request_capacity(page: ProductionPage, mine: str) -> Response:
    return await _request(page, mine, "capacity", page._("核定生产能力变更申请已提交，待审批"))


@router.post("/production/{mine}/plan-requests")
async def request_plan(page: ProductionPage, mine: str) -> Response:
    return await _request(page, mine, "plan", page._("产量计划已报送，待审批"))


@router.post("/production/{mine}/permit-requests")
async def request_permit(page: ProductionPage, mine: str) -> Response:
    return await _request(page, mine, "permit", page._("开盖/调参申请已提交，待审批"))


async def _back_to(page: Page, mine: str) -> str:
    """The page the decision was taken on (the form says which)."""
    form = await page.request.form()
    shown = "permits" if form.get("page") == "permits" else "capacity"
    return f"/production/{shown}?mine={mine}"


@router.post("/production/{mine}/requests/{request}/approve")
async def approve_request(page: ProductionPage, mine: str, request: int) -> Response:
    def action(session: Session, _data: _Confirm) -> None:
        service.approve_request(session, page.principal, request, page.now())

    back = await _back_to(page, mine)
    return await submit(
        page, _Confirm, action, back=back, done=page._("申请已批准并生效"), exclude=("page",)
    )


@router.post("/production/{mine}/requests/{request}/reject")
async def reject_request(page: ProductionPage, mine: str, request: int) -> Response:
    def action(session: Session, data: RejectIn) -> None:
        service.reject_request(session, page.principal, request, data, page.now())

    back = await _back_to(page, mine)
    return await submit(
        page, RejectIn, action, back=back, done=page._("申请已驳回"), exclude=("page",)
    )
