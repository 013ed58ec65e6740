"""Pages of 台账管理: 设备仪表台账, 故障登记, 检修记录, 调校记录, UPS 测试.

Each list page is one call of ``_ledger``: a filter form, paging, CSV/XLSX export
(``ledger:export``) of the ledger's ``Table``; forms post through the services with
``submit`` (``ledger:write``; the fault register's acts need ``alarm:write``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.domain import calibration as calibration_rules
from coalwatch.domain.alarms import LABELS as ALARM_LABELS
from coalwatch.domain.capacity import REDUCTION_LABELS
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
from coalwatch.faults.schemas import CloseIn, FaultIn, FaultOut, ReportIn
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import MineOut
from coalwatch.records import service
from coalwatch.records.schemas import (
    CalibrationRecordIn,
    CalibrationRecordOut,
    ConfirmIn,
    EquipmentIn,
    EquipmentOut,
    MaintenanceIn,
    MaintenanceOut,
    Paged,
    ScrapIn,
    UpsTestIn,
    UpsTestOut,
)
from coalwatch.web.exports import Cell
from coalwatch.web.forms import back_to, submit
from coalwatch.web.listing import PAGE_SIZE, Format, PageNo, export, local
from coalwatch.web.pages import Page, need
from coalwatch.wire.types import Day

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]
Text = Annotated[str | None, Query(max_length=64)]
From = Annotated[Day | None, Query(alias="from")]
To = Annotated[Day | None, Query(alias="to")]

Row = TypeVar("Row")
#: one page of a ledger of the mine with this code, or (service.ALL) every row of it
Fetch = Callable[[Session, str, service.Window], Paged[Any]]


@dataclass(frozen=True, slots=True)
class Table(Generic[Row]):
    """A ledger as a download: its title (the file and sheet name), header, and rows."""

    title: str
    header: Sequence[str]
    row: Callable[[Row], list[Cell]]


def _mines(page: Page, mine: str | None) -> tuple[list[MineOut], MineOut | None]:
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
    current = next((m for m in items if m.code == mine), None)
    if current is None and mine is None and items:
        current = items[0]
    return items, current


def _window(format: str | None, page_no: int) -> service.Window:
    return service.ALL if format else service.Window(page_no, PAGE_SIZE)


def _labels(page: Page, labels: dict[Any, str]) -> dict[str, str]:
    return {str(key): page.label(label) for key, label in labels.items()}


def _ledger(
    page: Page,
    name: str,
    mine: str | None,
    fetch: Fetch,
    *,
    table: Table[Any],
    query: dict[str, Any],
    page_no: int,
    format: str | None,
    more: Callable[[Session, str], dict[str, Any]] | None = None,
    **context: Any,
) -> Response:
    """The list page ``/ledger/<name>`` of the mine picked (the first by default): one page
    of ``fetch``, or every row as the ``table`` download. ``query``: the other filters, in
    the order of the links; ``more``: the forms' choices, read with the rows."""
    items, current = _mines(page, mine)
    found = None
    if current is not None:
        with page.session() as session:
            found = fetch(session, current.code, _window(format, page_no))
            if more is not None:
                context.update(more(session, current.code))
    return _show(page, name, items, current, found, table, query, page_no, format, **context)


def _show(
    page: Page,
    name: str,
    items: list[MineOut],
    current: MineOut | None,
    found: Paged[Any] | None,
    table: Table[Any],
    query: dict[str, Any],
    page_no: int,
    format: str | None,
    **context: Any,
) -> Response:
    """``found`` as the download asked for, or on the page ``records/<name>.html`` with its
    filters, paging and export links."""
    if format:
        rows = [table.row(item) for item in (found.items if found else [])]
        return _export(page, table, rows, format)
    values = {"mine": current.code if current else None, **query}
    filters = {k: str(v) for k, v in values.items() if v not in (None, "", False)}
    encoded = urlencode(filters)
    link = f"/ledger/{name}?{encoded}&" if encoded else f"/ledger/{name}?"
    return page.render(
        f"records/{name}.html",
        mines=items,
        current=current,
        found=found,
        filters=filters,
        page_no=page_no,
        size=PAGE_SIZE,
        urls=(link, link + "format="),
        **context,
    )


def _export(page: Page, table: Table[Any], rows: list[list[Cell]], format: str) -> Response:
    """``<title>-<local yyyymmddHHMM>`` as CSV or XLSX, instants in local time."""
    page.principal.require(service.EXPORT)
    instants = [[local(page, v) if isinstance(v, datetime) else v for v in row] for row in rows]
    return export(page, table.title, table.header, instants, format)


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
    kinds = _labels(page, KIND_LABELS)
    statuses = _labels(page, STATUS_LABELS)
    criteria = _labels(page, SCRAP_LABELS)
    _ = page._

    def row(e: EquipmentOut) -> list[Cell]:
        return [
            e.id, e.name, kinds.get(e.kind, e.kind), e.point, e.model, e.manufacturer,
            e.serial, e.ma_mark, e.ex_certificate, e.installed_on,
            statuses.get(e.status, e.status),
            criteria.get(e.scrap_criterion or "", e.scrap_criterion), e.scrapped_on,
            e.scrapped_by, e.note,
        ]  # fmt: skip

    header = [
        _("编号"), _("名称"), _("类别"), _("计量点"), _("型号"), _("生产厂家"),
        _("出厂编号"), _("MA 安全标志编号"), _("防爆合格证编号"), _("安装日期"),
        _("状态"), _("报废依据"), _("报废日期"), _("报废人"), _("备注"),
    ]  # fmt: skip
    return _ledger(
        page,
        "equipment",
        mine,
        lambda session, code, window: service.list_equipment(
            session, page.principal, code, status=status, kind=kind, window=window
        ),
        table=Table(_("设备仪表台账"), header, row),
        query={"status": status, "kind": kind},
        page_no=page_no,
        format=format,
        kinds=kinds,
        statuses=statuses,
        criteria=criteria,
    )


@router.post("/ledger/{mine}/equipment")
async def add_equipment(page: LedgerPage, mine: str) -> Response:
    return await submit(
        page,
        EquipmentIn,
        lambda session, data: service.add_equipment(
            session, page.principal, mine, data, page.now()
        ),
        back=f"/ledger/equipment?mine={mine}",
        done=page._("设备已登记"),
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
    return await submit(
        page,
        EquipmentIn,
        lambda session, data: service.update_equipment(
            session, page.principal, mine, equipment_id, data, page.now()
        ),
        back=f"/ledger/{mine}/equipment/{equipment_id}",
        done=page._("设备信息已保存"),
    )


@router.post("/ledger/{mine}/equipment/{equipment_id}/scrap")
async def scrap_equipment(page: LedgerPage, mine: str, equipment_id: int) -> Response:
    return await submit(
        page,
        ScrapIn,
        lambda session, data: service.scrap_equipment(
            session, page.principal, mine, equipment_id, data, page.now()
        ),
        back=f"/ledger/{mine}/equipment/{equipment_id}",
        done=page._("设备已报废"),
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
    """故障登记: the fault records with their 1 h / 2 h reporting, recovery and reduction,
    of every mine in scope unless one is picked; a download holds every record."""
    items, current = _mines(page, mine)
    current = current if mine else None
    with page.session() as session:
        every = service.list_faults(
            session,
            page.principal,
            current.code if current else None,
            open_only=open,
            now=page.now(),
        ).items
    shown = every if format else every[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    found = Paged[FaultOut](items=shown, total=len(every), page=page_no, size=PAGE_SIZE)
    kinds = {t.value: page.label(label) for t, label in ALARM_LABELS.items()}
    kinds["manual"] = page._("人工登记")
    _ = page._
    lateness = {"warning": _("超过 1 小时未上报"), "violation": _("超过 2 小时未上报")}

    def row(f: FaultOut) -> list[Cell]:
        return [
            f.id, f.mine, f.point, kinds.get(f.kind, f.kind), f.phenomenon, f.occurred_at,
            f.reported_at, f.reported_by, lateness.get(f.report_lateness or "", ""),
            f.recovered_at, f.result, f.closed_at, f.reduction_t,
            page.label(REDUCTION_LABELS[f.reduction_status]) if f.reduction_status else None,
        ]  # fmt: skip

    header = [
        _("编号"), _("矿井"), _("计量点"), _("类型"), _("现象"), _("发生时间"),
        _("上报时间"), _("上报人"), _("上报状态"), _("恢复时间"), _("处理结果"),
        _("关闭时间"), _("核减 (t)"), _("核减状态"),
    ]  # fmt: skip
    return _show(
        page,
        "faults",
        items,
        current,
        found,
        Table(_("故障登记"), header, row),
        {"open": "true" if open else None},
        page_no,
        format,
        kinds=kinds,
        open_only=open,
        reduction_states=REDUCTION_LABELS,
    )


def _back(page: Page) -> str:
    return back_to(page, "/ledger/faults")


@router.post("/ledger/{mine}/faults")
async def record_fault(page: LedgerPage, mine: str) -> Response:
    return await submit(
        page,
        FaultIn,
        lambda session, data: faults.record_fault(session, page.principal, mine, data, page.now()),
        back=_back(page),
        done=page._("故障已登记"),
        local_times=("occurred_at",),
    )


@router.post("/ledger/faults/{fault_id}/report")
async def report_fault(page: LedgerPage, fault_id: int) -> Response:
    return await submit(
        page,
        ReportIn,
        lambda session, data: faults.report(session, page.principal, fault_id, data, page.now()),
        back=_back(page),
        done=page._("故障已上报") + f" #{fault_id}",
    )


@router.post("/ledger/faults/{fault_id}/close")
async def close_fault(page: LedgerPage, fault_id: int) -> Response:
    return await submit(
        page,
        CloseIn,
        lambda session, data: faults.close(session, page.principal, fault_id, data, page.now()),
        back=_back(page),
        done=page._("故障已关闭") + f" #{fault_id}",
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
    kinds = _labels(page, MAINTENANCE_LABELS)
    _ = page._

    def row(r: MaintenanceOut) -> list[Cell]:
        return [
            r.id, kinds.get(r.kind, r.kind), r.content, r.equipment_name, r.point,
            r.start, r.end, r.performed_by, r.result, r.next_due, r.recorded_by,
        ]  # fmt: skip

    header = [
        _("编号"), _("类别"), _("检修内容"), _("设备"), _("计量点"), _("开始时间"),
        _("结束时间"), _("检修人"), _("处理结果"), _("下次到期"), _("登记人"),
    ]  # fmt: skip
    return _ledger(
        page,
        "maintenance",
        mine,
        lambda session, code, window: service.list_maintenance(
            session, page.principal, code, kind=kind, first=start, last=end, window=window
        ),
        table=Table(_("检修记录"), header, row),
        query={"kind": kind, "from": start, "to": end},
        page_no=page_no,
        format=format,
        more=lambda session, code: {"equipment": _choices(page, session, code)},
        kinds=kinds,
    )


def _choices(
    page: Page, session: Session, code: str, kind: EquipmentKind | None = None
) -> list[tuple[int, str, str]]:
    """The mine's items in service (of ``kind``) for a form's equipment field."""
    choices = service.equipment_choices(session, page.principal, code)
    return [c for c in choices if kind is None or c[2] == kind]


@router.post("/ledger/{mine}/maintenance")
async def record_maintenance(page: LedgerPage, mine: str) -> Response:
    return await submit(
        page,
        MaintenanceIn,
        lambda session, data: service.record_maintenance(
            session, page.principal, mine, data, page.now()
        ),
        back=f"/ledger/maintenance?mine={mine}",
        done=page._("检修记录已登记"),
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
    _ = page._
    statuses = {"confirmed": _("已复核"), "pending": _("待复核"), "recorded": _("已登记")}

    def row(c: CalibrationRecordOut) -> list[Cell]:
        return [
            c.id, c.point, statuses.get(c.status, c.status), c.first_run_on,
            c.old_interval, c.first_actual_t, c.first_indicated_t, c.error_percent,
            c.new_interval, c.second_actual_t, c.second_indicated_t,
            c.second_error_percent, None if c.status == "pending" else c.calibrated_on,
            c.calibrated_by, c.witness,
            None if c.written_to_instrument is None else (
                _("是") if c.written_to_instrument else _("否")
            ),
            c.due_on, c.note, c.recorded_by,
        ]  # fmt: skip

    header = [
        _("编号"), _("计量点"), _("状态"), _("首次标定日期"), _("原间隔值"),
        _("实物重量 (t)"), _("显示重量 (t)"), _("误差 %"), _("新间隔值"),
        _("复核实物重量 (t)"), _("复核显示重量 (t)"), _("复核误差 %"), _("复核日期"),
        _("调校人"), _("见证人"), _("已写入仪表"), _("到期日"), _("备注"), _("登记人"),
    ]  # fmt: skip
    return _ledger(
        page,
        "calibrations",
        mine,
        lambda session, code, window: service.list_calibrations(
            session,
            page.principal,
            code,
            point=point or None,
            first=start,
            last=end,
            window=window,
        ),
        table=Table(_("调校记录"), header, row),
        query={"point": point, "from": start, "to": end},
        page_no=page_no,
        format=format,
        statuses=statuses,
        shown=_shown,
        today=page.now().astimezone(page.state.settings.tz).date(),
    )


def _shown(value: str | None, places: int) -> str:
    """An exact decimal string rounded half-up for the table."""
    if value is None:
        return "—"
    return format(calibration_rules.shown(Decimal(value), places), "f")


@router.post("/ledger/{mine}/calibrations")
async def record_calibration(page: LedgerPage, mine: str) -> Response:
    return await submit(
        page,
        CalibrationRecordIn,
        lambda session, data: service.record_calibration(
            session, page.principal, mine, data, page.now()
        ),
        back=f"/ledger/calibrations?mine={mine}",
        done=page._("调校记录已登记"),
    )


@router.post("/ledger/{mine}/calibrations/{calibration_id}/confirm")
async def confirm_calibration(page: LedgerPage, mine: str, calibration_id: int) -> Response:
    return await submit(
        page,
        ConfirmIn,
        lambda session, data: service.confirm_calibration(
            session, page.principal, mine, calibration_id, data, page.now()
        ),
        back=f"/ledger/calibrations?mine={mine}",
        done=page._("复核已登记") + f" #{calibration_id}",
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
    _ = page._

    def row(u: UpsTestOut) -> list[Cell]:
        return [
            u.id, u.tested_at, u.equipment_name, u.minutes_on_backup,
            _("合格") if u.passed else _("不合格"), u.tested_by, u.note, u.recorded_by,
        ]  # fmt: skip

    header = [
        _("编号"), _("测试时间"), _("设备"), _("备用电源运行 (分钟)"), _("结论"),
        _("测试人"), _("备注"), _("登记人"),
    ]  # fmt: skip
    return _ledger(
        page,
        "ups",
        mine,
        lambda session, code, window: service.list_ups_tests(
            session, page.principal, code, first=start, last=end, window=window
        ),
        table=Table(_("UPS 测试"), header, row),
        query={"from": start, "to": end},
        page_no=page_no,
        format=format,
        more=lambda session, code: {"equipment": _choices(page, session, code, EquipmentKind.UPS)},
        minimum=UPS_MIN_MINUTES,
    )


@router.post("/ledger/{mine}/ups")
async def record_ups_test(page: LedgerPage, mine: str) -> Response:
    return await submit(
        page,
        UpsTestIn,
        lambda session, data: service.record_ups_test(
            session, page.principal, mine, data, page.now()
        ),
        back=f"/ledger/ups?mine={mine}",
        done=page._("UPS 测试已登记"),
        local_times=("tested_at",),
    )
