"""Pages of 生产管理: 折算系数 (coefficient applications) and 人工录入 (manual production),
each a workflow: submit → 待审批 → approved (in force / counted) or rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from coalwatch.mines import service as mines
from coalwatch.mines.schemas import ManualProductionIn, MineConfig, MineOut
from coalwatch.web.exports import Cell, csv_response, xlsx_response
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need
from coalwatch.workflows import service
from coalwatch.workflows.schemas import (
    STATUSES,
    CoefficientApplicationIn,
    CoefficientApplicationOut,
    ManualEntryOut,
    RejectIn,
    Status,
)

router = APIRouter(include_in_schema=False)
ProductionPage = Annotated[Page, Depends(need("production:view"))]
MineParam = Annotated[str | None, Query(max_length=64)]
StatusParam = Annotated[str | None, Query(max_length=16)]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
Format = Annotated[str | None, Query(pattern="^(csv|xlsx)$")]
PAGE_SIZE = 30
EXPORT_LIMIT = 10_000

STATUS_LABELS = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
KIND_LABELS = {"half_year": "半年申报", "change": "变更申请"}


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


def _local(page: Page, value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(page.state.settings.tz)


def _export(
    page: Page, name: str, header: list[str], rows: list[list[Cell]], format: str
) -> Response:
    filename = name + "-" + page.now().astimezone(page.state.settings.tz).strftime("%Y%m%d%H%M")
    if format == "csv":
        return csv_response(filename, header, rows)
    return xlsx_response(filename, name, header, rows)


def _url(path: str, mine: str | None, status: Status | None) -> str:
    """The page's address with its filters, ready for ``page=`` or ``format=``."""
    filters = {k: v for k, v in {"mine": mine or "", "status": status}.items() if v is not None}
    return f"{path}?{urlencode(filters)}&"


# ---- 折算系数 ---------------------------------------------------------------------------


@router.get("/production/coefficients")
def coefficients_page(
    page: ProductionPage,
    mine: MineParam = None,
    status: StatusParam = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    chosen_status = _status(status)
    items, code, config = _scope(page, mine)
    with page.session() as session:
        rows, total = service.coefficient_applications(
            session,
            page.principal,
            mine=code,
            status=chosen_status,
            page=1 if format else page_no,
            size=EXPORT_LIMIT if format else PAGE_SIZE,
        )
    if format:
        return _coefficient_export(page, rows, format)
    return page.render(
        "workflows/coefficients.html",
        mines=items,
        mine=code,
        config=config,
        applications=rows,
        total=total,
        page_no=page_no,
        size=PAGE_SIZE,
        status_filter=chosen_status,
        statuses=STATUS_LABELS,
        kinds=KIND_LABELS,
        base_url=_url("/production/coefficients", code, chosen_status),
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
            _(KIND_LABELS[a.kind]),
            a.percent,
            a.approved_from or a.effective_from,
            a.approved_to or a.effective_to,
            a.changed_on,
            a.analysis,
            a.site_measurement,
            a.applied_by,
            a.filed_on,
            _("是") if a.on_time else _("否"),
            _(STATUS_LABELS[a.status]),
            a.decided_by,
            _local(page, a.decided_at),
            a.decision_note,
        ]
        for a in rows
    ]
    return _export(page, _("折算系数申报"), header, data, format)


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
    chosen_status = _status(status)
    items, code, config = _scope(page, mine)
    with page.session() as session:
        rows, total = service.manual_entries(
            session,
            page.principal,
            mine=code,
            status=chosen_status,
            page=1 if format else page_no,
            size=EXPORT_LIMIT if format else PAGE_SIZE,
        )
    if format:
        return _manual_export(page, rows, format)
    return page.render(
        "workflows/manual.html",
        mines=items,
        mine=code,
        config=config,
        entries=rows,
        total=total,
        page_no=page_no,
        size=PAGE_SIZE,
        status_filter=chosen_status,
        statuses=STATUS_LABELS,
        base_url=_url("/production/manual", code, chosen_status),
    )


def _manual_export(page: Page, rows: list[ManualEntryOut], format: str) -> Response:
    _ = page._
    header = [
        _("编号"), _("矿井"), _("计量点"), _("开始"), _("结束"), _("毛煤 (t)"), _("原因"),
        _("录入人"), _("录入时间"), _("状态"), _("审批人"), _("审批时间"), _("审批意见"),
    ]  # fmt: skip
    data: list[list[Any]] = [
        [
            e.id,
            e.mine_name,
            e.point,
            _local(page, e.start),
            _local(page, e.end),
            e.gross_t,
            e.reason,
            e.applied_by,
            _local(page, e.applied_at),
            _(STATUS_LABELS[e.status]),
            e.decided_by,
            _local(page, e.decided_at),
            e.decision_note,
        ]
        for e in rows
    ]
    return _export(page, _("人工录入"), header, data, format)


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
