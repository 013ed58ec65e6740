"""The ledgers over HTTP: ``/api/v1/mines/{mine}/ledger/<kind>``.

Reading needs a read token (``ledger:view``), writing ``ledger:write``, ``format=csv|xlsx``
``ledger:export``. Lists are newest first and paged (``page``, ``size``); an export holds
every matching row (up to 10,000). Nothing is deleted: there is no DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from coalwatch.domain.records import EquipmentKind, EquipmentStatus, MaintenanceKind
from coalwatch.faults import service as faults
from coalwatch.faults.schemas import FaultIn, FaultList, FaultOut
from coalwatch.records import service
from coalwatch.records.schemas import (
    CalibrationList,
    CalibrationRecordIn,
    CalibrationRecordOut,
    ConfirmIn,
    EquipmentIn,
    EquipmentList,
    EquipmentOut,
    MaintenanceIn,
    MaintenanceList,
    MaintenanceOut,
    ScrapIn,
    UpsTestIn,
    UpsTestList,
    UpsTestOut,
)
from coalwatch.schemas import Id
from coalwatch.web.context import Context, Ctx
from coalwatch.web.exports import XLSX, csv_response, xlsx_response
from coalwatch.wire.types import Day

router = APIRouter(tags=["ledgers"])

LedgerFormat = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(description="json (default), or csv / xlsx: every matching row (needs ledger:export)"),
]
PageNo = Annotated[int, Query(ge=1, le=100_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=500, description="rows per page")]
From = Annotated[Day | None, Query(alias="from", description="first day (local), inclusive")]
To = Annotated[Day | None, Query(alias="to", description="last day (local), inclusive")]


#: the 200 answer of a list: JSON, or a CSV / XLSX export
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or CSV / XLSX with `format=`",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _export(
    ctx: Context, name: str, model: type[BaseModel], items: Sequence[BaseModel], format: str
) -> Response:
    """The items as CSV (instants with their offset) or XLSX (local times)."""
    columns = tuple(model.model_fields)
    tz = ctx.settings.tz
    rows = []
    for item in items:
        row: list[Any] = []
        for column in columns:
            value = getattr(item, column)
            if isinstance(value, datetime):
                value = value.astimezone(tz)
            row.append(value)
        rows.append(row)
    if format == "csv":
        return csv_response(name, columns, rows)
    return xlsx_response(name, name, columns, rows)


# ---- equipment ---------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/equipment",
    summary="The equipment ledger 设备仪表台账",
    response_model=EquipmentList,
    responses=ANSWERS,
)
def list_equipment(
    mine: str,
    ctx: Ctx,
    status: EquipmentStatus | None = None,
    kind: EquipmentKind | None = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> EquipmentList | Response:
    with ctx.session() as session:
        principal = ctx.principal(session)
        if format != "json":
            service.require_export(principal)
        window = service.ALL if format != "json" else service.Window(page, size)
        found = service.list_equipment(
            session, principal, mine, status=status, kind=kind, window=window
        )
    if format != "json":
        return _export(ctx, f"equipment-{mine}", EquipmentOut, found.items, format)
    return found


@router.post("/mines/{mine}/ledger/equipment", status_code=201, summary="Add an item")
def add_equipment(mine: str, data: EquipmentIn, ctx: Ctx) -> EquipmentOut:
    with ctx.session() as session:
        return service.add_equipment(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/ledger/equipment/{equipment_id}", summary="One item")
def get_equipment(mine: str, equipment_id: Id, ctx: Ctx) -> EquipmentOut:
    with ctx.session() as session:
        return service.get_equipment(session, ctx.principal(session), mine, equipment_id)


@router.put(
    "/mines/{mine}/ledger/equipment/{equipment_id}",
    summary="Change an item (a scrapped one: 409)",
)
def update_equipment(mine: str, equipment_id: Id, data: EquipmentIn, ctx: Ctx) -> EquipmentOut:
    with ctx.session() as session:
        return service.update_equipment(
            session, ctx.principal(session), mine, equipment_id, data, ctx.now()
        )


@router.post(
    "/mines/{mine}/ledger/equipment/{equipment_id}/scrap",
    summary="Scrap an item 报废 on one of the regulation's criteria",
)
def scrap_equipment(mine: str, equipment_id: Id, data: ScrapIn, ctx: Ctx) -> EquipmentOut:
    with ctx.session() as session:
        return service.scrap_equipment(
            session, ctx.principal(session), mine, equipment_id, data, ctx.now()
        )


# ---- maintenance -------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/maintenance",
    summary="Maintenance records 检修记录",
    response_model=MaintenanceList,
    responses=ANSWERS,
)
def list_maintenance(
    mine: str,
    ctx: Ctx,
    kind: MaintenanceKind | None = None,
    equipment: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: From = None,
    end: To = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> MaintenanceList | Response:
    with ctx.session() as session:
        principal = ctx.principal(session)
        if format != "json":
            service.require_export(principal)
        window = service.ALL if format != "json" else service.Window(page, size)
        found = service.list_maintenance(
            session,
            principal,
            mine,
            kind=kind,
            equipment=equipment,
            first=start,
            last=end,
            window=window,
        )
    if format != "json":
        return _export(ctx, f"maintenance-{mine}", MaintenanceOut, found.items, format)
    return found


@router.post("/mines/{mine}/ledger/maintenance", status_code=201, summary="Record maintenance")
def record_maintenance(mine: str, data: MaintenanceIn, ctx: Ctx) -> MaintenanceOut:
    with ctx.session() as session:
        return service.record_maintenance(session, ctx.principal(session), mine, data, ctx.now())


# ---- calibrations ------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/calibrations",
    summary="Calibration records 调校记录",
    response_model=CalibrationList,
    responses=ANSWERS,
)
def list_calibrations(
    mine: str,
    ctx: Ctx,
    point: Annotated[str | None, Query(max_length=64)] = None,
    start: From = None,
    end: To = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> CalibrationList | Response:
    with ctx.session() as session:
        principal = ctx.principal(session)
        if format != "json":
            service.require_export(principal)
        window = service.ALL if format != "json" else service.Window(page, size)
        found = service.list_calibrations(
            session, principal, mine, point=point, first=start, last=end, window=window
        )
    if format != "json":
        return _export(ctx, f"calibrations-{mine}", CalibrationRecordOut, found.items, format)
    return found


@router.post(
    "/mines/{mine}/ledger/calibrations",
    status_code=201,
    summary="Record a physical calibration (with or without its confirming second run)",
)
def record_calibration(mine: str, data: CalibrationRecordIn, ctx: Ctx) -> CalibrationRecordOut:
    with ctx.session() as session:
        return service.record_calibration(session, ctx.principal(session), mine, data, ctx.now())


@router.post(
    "/mines/{mine}/ledger/calibrations/{calibration_id}/confirm",
    summary="The confirming second run of a pending calibration",
)
def confirm_calibration(
    mine: str, calibration_id: Id, data: ConfirmIn, ctx: Ctx
) -> CalibrationRecordOut:
    with ctx.session() as session:
        return service.confirm_calibration(
            session, ctx.principal(session), mine, calibration_id, data, ctx.now()
        )


# ---- UPS tests ---------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/ups",
    summary="UPS tests (15 min on backup power to pass)",
    response_model=UpsTestList,
    responses=ANSWERS,
)
def list_ups_tests(
    mine: str,
    ctx: Ctx,
    start: From = None,
    end: To = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> UpsTestList | Response:
    with ctx.session() as session:
        principal = ctx.principal(session)
        if format != "json":
            service.require_export(principal)
        window = service.ALL if format != "json" else service.Window(page, size)
        found = service.list_ups_tests(
            session, principal, mine, first=start, last=end, window=window
        )
    if format != "json":
        return _export(ctx, f"ups-tests-{mine}", UpsTestOut, found.items, format)
    return found


@router.post("/mines/{mine}/ledger/ups", status_code=201, summary="Record a UPS test")
def record_ups_test(mine: str, data: UpsTestIn, ctx: Ctx) -> UpsTestOut:
    with ctx.session() as session:
        return service.record_ups_test(session, ctx.principal(session), mine, data, ctx.now())


# ---- the fault register ------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/faults",
    summary="The fault register 故障登记 of a mine (the fault records)",
    response_model=FaultList,
    responses=ANSWERS,
)
def list_faults(
    mine: str, ctx: Ctx, open: bool = False, format: LedgerFormat = "json"
) -> FaultList | Response:
    with ctx.session() as session:
        principal = ctx.principal(session)
        if format != "json":
            service.require_export(principal)
        items = service.list_faults(session, principal, mine, open_only=open, now=ctx.now())
    if format != "json":
        return _export(ctx, f"faults-{mine}", FaultOut, items, format)
    return FaultList(items=items)


@router.post(
    "/mines/{mine}/ledger/faults", status_code=201, summary="Register a fault by hand (故障登记)"
)
def record_fault(mine: str, data: FaultIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return faults.record_fault(session, ctx.principal(session), mine, data, ctx.now())
