"""Pages of 台账管理: 设备仪表台账, 故障登记, 检修记录, 调校记录, UPS 测试.

Each page: a filter form, paging, CSV/XLSX export (``ledger:export``), and forms that post
through the services (``ledger:write``; the fault register's acts need ``alarm:write``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from coalwatch.domain import calibration as calibration_rules
from coalwatch.domain.alarms import LABELS as ALARM_LABELS
from coalwatch.domain.records import (
    KIND_LABELS,
    MAINTENANCE_LABELS,
    SCRAP_LABELS,
    STATUS_LABELS,
    UPS_MIN_MINUTES,
    EquipmentKind,
    EquipmentStatus,
    MaintenanceKind,
)
from coalwatch.faults import service as faults
from coalwatch.faults.schemas import CloseIn, FaultIn, ReportIn
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import MineOut
from coalwatch.records import service
from coalwatch.records.schemas import (
    CalibrationRecordIn,
    ConfirmIn,
    EquipmentIn,
    MaintenanceIn,
    ScrapIn,
    UpsTestIn,
)
from coalwatch.web.exports import Cell, csv_response, xlsx_response
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need
from coalwatch.wire.types import Day

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]
Text = Annotated[str | None, Query(max_length=64)]
From = Annotated[Day | None, Query(alias="from")]
To = Annotated[Day | None, Query(alias="to")]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
Format = Annotated[str | None, Query(pattern="^(csv|xlsx)$")]
PAGE_SIZE = 30


def _filters(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v not in (None, "", False)}


def _mines(page: Page, mine: str | None) -> tuple[list[MineOut], MineOut | None]:
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
    current = next((m for m in items if m.code == mine), None)
    if current is None and mine is None and items:
        current = items[0]
    return items, current


def _urls(path: str, filters: dict[str, str]) -> tuple[str, str]:
    """The paging and the export links of a list with its filters."""
    query = urlencode(filters)
    base = f"{path}?{query}&" if query else f"{path}?"
    return base, base + "format="


def _window(format: str | None, page_no: int) -> service.Window:
    return service.ALL if format else service.Window(page_no, PAGE_SIZE)


def _export(
    page: Page, title: str, header: Sequence[str], rows: list[list[Cell]], format: str
) -> Response:
    page.principal.require(service.EXPORT)
    tz = page.state.settings.tz
    local = [[v.astimezone(tz) if isinstance(v, datetime) else v for v in row] for row in rows]
    name = title + "-" + page.now().astimezone(tz).strftime("%Y%m%d%H%M")
    if format == "csv":
        return csv_response(name, header, local)
    return xlsx_response(name, title, header, local)


def _labels(page: Page, labels: dict[Any, str]) -> dict[str, str]:
    return {str(key): page._(label) for key, label in labels.items()}


async def _post(
    page: Page,
    schema: type[BaseModel],
    action: Callable[[Session, Any], object],
    back: str,
    done: str,
    local_times: Sequence[str] = (),
) -> Response:
    return await submit(page, schema, action, back=back, done=done, local_times=local_times)


# ---- 设备仪表台账 ----------------------------------------------------------------------------


@router.get("/ledger/equipment")
def equipment(
    page: LedgerPage,
    mine: Text = None,
    status: Annotated[EquipmentStatus | None, Query()] = None,
    kind: Annotated[EquipmentKind | None, Query()] = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    items, current = _mines(page, mine)
    found = None
    if current is not None:
        with page.session() as session:
            found = service.list_equipment(
                session,
                page.principal,
                current.code,
                status=status,
                kind=kind,
                window=_window(format, page_no),
            )
    kinds = _labels(page, KIND_LABELS)
    statuses = _labels(page, STATUS_LABELS)
    criteria = _labels(page, SCRAP_LABELS)
    if format:
        _ = page._
        header = [
            _("编号"), _("名称"), _("类别"), _("计量点"), _("型号"), _("生产厂家"),
            _("出厂编号"), _("MA 安全标志编号"), _("防爆合格证编号"), _("安装日期"),
            _("状态"), _("报废依据"), _("报废日期"), _("报废人"), _("备注"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                e.id, e.name, kinds.get(e.kind, e.kind), e.point, e.model, e.manufacturer,
                e.serial, e.ma_mark, e.ex_certificate, e.installed_on,
                statuses.get(e.status, e.status),
                criteria.get(e.scrap_criterion or "", e.scrap_criterion), e.scrapped_on,
                e.scrapped_by, e.note,
            ]
            for e in (found.items if found else [])
        ]  # fmt: skip
        return _export(page, page._("设备仪表台账"), header, rows, format)
    filters = _filters(
        mine=current.code if current else None,
        status=status.value if status else None,
        kind=kind.value if kind else None,
    )
    return page.render(
        "records/equipment.html",
        mines=items,
        current=current,
        found=found,
        filters=filters,
        page_no=page_no,
        size=PAGE_SIZE,
        kinds=kinds,
        statuses=statuses,
        criteria=criteria,
        urls=_urls("/ledger/equipment", filters),
    )


@router.post("/ledger/{mine}/equipment")
async def add_equipment(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: EquipmentIn) -> None:
        service.add_equipment(session, page.principal, mine, data, page.now())

    return await _post(
        page, EquipmentIn, action, f"/ledger/equipment?mine={mine}", page._("设备已登记")
    )


@router.get("/ledger/{mine}/equipment/{equipment_id}")
def equipment_item(page: LedgerPage, mine: str, equipment_id: int) -> Response:
    items, current = _mines(page, mine)
    with page.session() as session:
        item = service.get_equipment(session, page.principal, mine, equipment_id)
        history = service.list_maintenance(
            session, page.principal, mine, equipment=equipment_id, window=service.ALL
        )
    return page.render(
        "records/equipment_item.html",
        mines=items,
        current=current,
        item=item,
        maintenance=history.items,
        kinds=_labels(page, KIND_LABELS),
        statuses=_labels(page, STATUS_LABELS),
        criteria=_labels(page, SCRAP_LABELS),
        maintenance_kinds=_labels(page, MAINTENANCE_LABELS),
        today=page.now().astimezone(page.state.settings.tz).date(),
    )


@router.post("/ledger/{mine}/equipment/{equipment_id}")
async def update_equipment(page: LedgerPage, mine: str, equipment_id: int) -> Response:
    def action(session: Session, data: EquipmentIn) -> None:
        service.update_equipment(session, page.principal, mine, equipment_id, data, page.now())

    return await _post(
        page,
        EquipmentIn,
        action,
        f"/ledger/{mine}/equipment/{equipment_id}",
        page._("设备信息已保存"),
    )


@router.post("/ledger/{mine}/equipment/{equipment_id}/scrap")
async def scrap_equipment(page: LedgerPage, mine: str, equipment_id: int) -> Response:
    def action(session: Session, data: ScrapIn) -> None:
        service.scrap_equipment(session, page.principal, mine, equipment_id, data, page.now())

    return await _post(
        page,
        ScrapIn,
        action,
        f"/ledger/{mine}/equipment/{equipment_id}",
        page._("设备已报废"),
    )


# ---- 故障登记 ------------------------------------------------------------------------------


@router.get("/ledger/faults")
def fault_register(
    page: LedgerPage,
    mine: Text = None,
    open: bool = False,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    """故障登记: the fault records with their 1 h / 2 h reporting, recovery and reduction."""
    items, current = _mines(page, mine)
    code = current.code if current and mine else None
    with page.session() as session:
        all_faults = service.list_faults(
            session, page.principal, code, open_only=open, now=page.now()
        )
    kinds = {t.value: page._(label) for t, label in ALARM_LABELS.items()}
    kinds["manual"] = page._("人工登记")
    if format:
        _ = page._
        header = [
            _("编号"), _("矿井"), _("计量点"), _("类型"), _("现象"), _("发生时间"),
            _("上报时间"), _("上报人"), _("上报状态"), _("恢复时间"), _("处理结果"),
            _("关闭时间"), _("核减 (t)"),
        ]  # fmt: skip
        lateness = {"warning": _("超过 1 小时未上报"), "violation": _("超过 2 小时未上报")}
        rows: list[list[Cell]] = [
            [
                f.id, f.mine, f.point, kinds.get(f.kind, f.kind), f.phenomenon, f.occurred_at,
                f.reported_at, f.reported_by, lateness.get(f.report_lateness or "", ""),
                f.recovered_at, f.result, f.closed_at, f.reduction_t,
            ]
            for f in all_faults
        ]  # fmt: skip
        return _export(page, page._("故障登记"), header, rows, format)
    start = (page_no - 1) * PAGE_SIZE
    filters = _filters(mine=code, open="true" if open else None)
    return page.render(
        "records/faults.html",
        mines=items,
        current=current if code else None,
        faults=all_faults[start : start + PAGE_SIZE],
        total=len(all_faults),
        filters=filters,
        open_only=open,
        page_no=page_no,
        size=PAGE_SIZE,
        kinds=kinds,
        urls=_urls("/ledger/faults", filters),
    )


def _back(page: Page) -> str:
    referer = page.request.headers.get("referer") or ""
    marker = referer.find("/ledger/faults")
    return referer[marker:] if marker >= 0 else "/ledger/faults"


@router.post("/ledger/{mine}/faults")
async def record_fault(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: FaultIn) -> None:
        faults.record_fault(session, page.principal, mine, data, page.now())

    return await _post(
        page, FaultIn, action, _back(page), page._("故障已登记"), local_times=("occurred_at",)
    )


@router.post("/ledger/faults/{fault_id}/report")
async def report_fault(page: LedgerPage, fault_id: int) -> Response:
    def action(session: Session, data: ReportIn) -> None:
        faults.report(session, page.principal, fault_id, data, page.now())

    return await _post(
        page,
        ReportIn,
        action,
        _back(page),
        page._("故障已上报") + f" #{fault_id}",
        local_times=("reported_at",),
    )


@router.post("/ledger/faults/{fault_id}/close")
async def close_fault(page: LedgerPage, fault_id: int) -> Response:
    def action(session: Session, data: CloseIn) -> None:
        faults.close(session, page.principal, fault_id, data, page.now())

    return await _post(
        page,
        CloseIn,
        action,
        _back(page),
        page._("故障已关闭") + f" #{fault_id}",
        local_times=("recovered_at",),
    )


# ---- 检修记录 ------------------------------------------------------------------------------


@router.get("/ledger/maintenance")
def maintenance(
    page: LedgerPage,
    mine: Text = None,
    kind: Annotated[MaintenanceKind | None, Query()] = None,
    start: From = None,
    end: To = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    items, current = _mines(page, mine)
    found = None
    choices: list[tuple[int, str, str]] = []
    if current is not None:
        with page.session() as session:
            found = service.list_maintenance(
                session,
                page.principal,
                current.code,
                kind=kind,
                first=start,
                last=end,
                window=_window(format, page_no),
            )
            choices = service.equipment_choices(session, page.principal, current.code)
    kinds = _labels(page, MAINTENANCE_LABELS)
    if format:
        _ = page._
        header = [
            _("编号"), _("类别"), _("检修内容"), _("设备"), _("计量点"), _("开始时间"),
            _("结束时间"), _("检修人"), _("处理结果"), _("下次到期"), _("登记人"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                r.id, kinds.get(r.kind, r.kind), r.content, r.equipment_name, r.point,
                r.start, r.end, r.performed_by, r.result, r.next_due, r.recorded_by,
            ]
            for r in (found.items if found else [])
        ]  # fmt: skip
        return _export(page, page._("检修记录"), header, rows, format)
    filters = _filters(
        mine=current.code if current else None,
        kind=kind.value if kind else None,
        **{"from": start, "to": end},
    )
    return page.render(
        "records/maintenance.html",
        mines=items,
        current=current,
        found=found,
        filters=filters,
        page_no=page_no,
        size=PAGE_SIZE,
        kinds=kinds,
        equipment=choices,
        urls=_urls("/ledger/maintenance", filters),
    )


@router.post("/ledger/{mine}/maintenance")
async def record_maintenance(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: MaintenanceIn) -> None:
        service.record_maintenance(session, page.principal, mine, data, page.now())

    return await _post(
        page,
        MaintenanceIn,
        action,
        f"/ledger/maintenance?mine={mine}",
        page._("检修记录已登记"),
        local_times=("start", "end"),
    )


# ---- 调校记录 ------------------------------------------------------------------------------


@router.get("/ledger/calibrations")
def calibrations(
    page: LedgerPage,
    mine: Text = None,
    point: Text = None,
    start: From = None,
    end: To = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    items, current = _mines(page, mine)
    found = None
    if current is not None:
        with page.session() as session:
            found = service.list_calibrations(
                session,
                page.principal,
                current.code,
                point=point or None,
                first=start,
                last=end,
                window=_window(format, page_no),
            )
    statuses = {
        "confirmed": page._("已复核"),
        "pending": page._("待复核"),
        "recorded": page._("已登记"),
    }
    if format:
        _ = page._
        header = [
            _("编号"), _("计量点"), _("状态"), _("首次标定日期"), _("原间隔值"),
            _("实物重量 (t)"), _("显示重量 (t)"), _("误差 %"), _("新间隔值"),
            _("复核实物重量 (t)"), _("复核显示重量 (t)"), _("复核误差 %"), _("复核日期"),
            _("调校人"), _("见证人"), _("已写入仪表"), _("到期日"), _("备注"), _("登记人"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                c.id, c.point, statuses.get(c.status, c.status), c.first_run_on,
                c.old_interval, c.first_actual_t, c.first_indicated_t, c.error_percent,
                c.new_interval, c.second_actual_t, c.second_indicated_t,
                c.second_error_percent, None if c.status == "pending" else c.calibrated_on,
                c.calibrated_by, c.witness,
                None if c.written_to_instrument is None else (
                    _("是") if c.written_to_instrument else _("否")
                ),
                c.due_on, c.note, c.recorded_by,
            ]
            for c in (found.items if found else [])
        ]  # fmt: skip
        return _export(page, page._("调校记录"), header, rows, format)
    filters = _filters(
        mine=current.code if current else None, point=point, **{"from": start, "to": end}
    )
    return page.render(
        "records/calibrations.html",
        mines=items,
        current=current,
        found=found,
        filters=filters,
        page_no=page_no,
        size=PAGE_SIZE,
        statuses=statuses,
        shown=_shown,
        today=page.now().astimezone(page.state.settings.tz).date(),
        urls=_urls("/ledger/calibrations", filters),
    )


def _shown(value: str | None, places: int) -> str:
    """An exact decimal string rounded half-up for the table."""
    if value is None:
        return "—"
    return format(calibration_rules.shown(Decimal(value), places), "f")


@router.post("/ledger/{mine}/calibrations")
async def record_calibration(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: CalibrationRecordIn) -> None:
        service.record_calibration(session, page.principal, mine, data, page.now())

    return await _post(
        page,
        CalibrationRecordIn,
        action,
        f"/ledger/calibrations?mine={mine}",
        page._("调校记录已登记"),
    )


@router.post("/ledger/{mine}/calibrations/{calibration_id}/confirm")
async def confirm_calibration(page: LedgerPage, mine: str, calibration_id: int) -> Response:
    def action(session: Session, data: ConfirmIn) -> None:
        service.confirm_calibration(session, page.principal, mine, calibration_id, data, page.now())

    return await _post(
        page,
        ConfirmIn,
        action,
        f"/ledger/calibrations?mine={mine}",
        page._("复核已登记") + f" #{calibration_id}",
    )


# ---- UPS 测试 ------------------------------------------------------------------------------


@router.get("/ledger/ups")
def ups_tests(
    page: LedgerPage,
    mine: Text = None,
    start: From = None,
    end: To = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    items, current = _mines(page, mine)
    found = None
    choices: list[tuple[int, str, str]] = []
    if current is not None:
        with page.session() as session:
            found = service.list_ups_tests(
                session,
                page.principal,
                current.code,
                first=start,
                last=end,
                window=_window(format, page_no),
            )
            choices = [
                c
                for c in service.equipment_choices(session, page.principal, current.code)
                if c[2] == EquipmentKind.UPS
            ]
    if format:
        _ = page._
        header = [
            _("编号"), _("测试时间"), _("设备"), _("备用电源运行 (分钟)"), _("结论"),
            _("测试人"), _("备注"), _("登记人"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                u.id, u.tested_at, u.equipment_name, u.minutes_on_backup,
                _("合格") if u.passed else _("不合格"), u.tested_by, u.note, u.recorded_by,
            ]
            for u in (found.items if found else [])
        ]  # fmt: skip
        return _export(page, page._("UPS 测试"), header, rows, format)
    filters = _filters(mine=current.code if current else None, **{"from": start, "to": end})
    return page.render(
        "records/ups.html",
        mines=items,
        current=current,
        found=found,
        filters=filters,
        page_no=page_no,
        size=PAGE_SIZE,
        equipment=choices,
        minimum=UPS_MIN_MINUTES,
        urls=_urls("/ledger/ups", filters),
    )


@router.post("/ledger/{mine}/ups")
async def record_ups_test(page: LedgerPage, mine: str) -> Response:
    def action(session: Session, data: UpsTestIn) -> None:
        service.record_ups_test(session, page.principal, mine, data, page.now())

    return await _post(
        page,
        UpsTestIn,
        action,
        f"/ledger/ups?mine={mine}",
        page._("UPS 测试已登记"),
        local_times=("tested_at",),
    )
